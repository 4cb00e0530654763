"""TLS for the gRPC server (and its clients), by configuration (SPEC §5).

This module owns turning certificate files into gRPC credentials:

- server TLS: a certificate chain and its private key (PEM), from
  ``--tls-cert``/``--tls-key`` or ``THIDUA_TLS_CERT``/``THIDUA_TLS_KEY``;
- mutual TLS: additionally a client CA bundle (``--tls-client-ca`` or
  ``THIDUA_TLS_CLIENT_CA``); then every client must present a certificate
  signed by that CA, or the handshake fails;
- clients (the demo, tests, tools): `channel_credentials` from a CA file and,
  for mTLS, a client certificate and key.

A file that is missing, unreadable or not PEM is a `TlsConfigError` naming
the file, reported before the server starts, never a failed handshake later.
Without a certificate the server listens in plaintext (for loopback use).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from dsl.errors import ThiduaError

ENV_CERT, ENV_KEY, ENV_CLIENT_CA = "THIDUA_TLS_CERT", "THIDUA_TLS_KEY", "THIDUA_TLS_CLIENT_CA"


class TlsConfigError(ThiduaError):
    """TLS settings that cannot work: a missing half of a pair, or a file that is not PEM."""


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """Where the server's certificate, key and (for mTLS) client CA are."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    @property
    def mutual(self) -> bool:
        return self.client_ca_file is not None


def tls_settings(
    cert: str | os.PathLike[str] | None = None,
    key: str | os.PathLike[str] | None = None,
    client_ca: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TlsSettings | None:
    """Settings from arguments, each falling back to its environment variable; None means plaintext."""
    env = os.environ if environ is None else environ
    cert = cert or env.get(ENV_CERT) or None
    key = key or env.get(ENV_KEY) or None
    client_ca = client_ca or env.get(ENV_CLIENT_CA) or None
    if cert is None and key is None:
        if client_ca is not None:
            raise TlsConfigError("a client CA (mutual TLS) needs the server's own certificate and key too")
        return None
    if cert is None or key is None:
        missing = "certificate (--tls-cert)" if cert is None else "private key (--tls-key)"
        raise TlsConfigError(f"TLS needs both a certificate and its private key; the {missing} is missing")
    return TlsSettings(Path(cert), Path(key), Path(client_ca) if client_ca is not None else None)


def read_pem(path: str | os.PathLike[str], what: str) -> bytes:
    """The bytes of a PEM file; `TlsConfigError` naming it when it is unreadable or not PEM."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TlsConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None
    if b"-----BEGIN " not in data:
        raise TlsConfigError(f"the {what} {path} is not a PEM file (no '-----BEGIN' line)")
    return data


def server_credentials(settings: TlsSettings) -> grpc.ServerCredentials:
    """Credentials for ``server.add_secure_port``; with a client CA, client certificates are required."""
    key = read_pem(settings.key_file, "TLS private key")
    cert = read_pem(settings.cert_file, "TLS certificate")
    root = read_pem(settings.client_ca_file, "client CA") if settings.client_ca_file is not None else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=root, require_client_auth=root is not None
    )


def channel_credentials(
    ca_file: str | os.PathLike[str] | None = None,
    client_cert: str | os.PathLike[str] | None = None,
    client_key: str | os.PathLike[str] | None = None,
) -> grpc.ChannelCredentials:
    """Client credentials: trust ``ca_file`` (default: system roots); present a certificate for mTLS."""
    if (client_cert is None) != (client_key is None):
        raise TlsConfigError("a client certificate needs its private key, and the other way round")
    root = read_pem(ca_file, "CA certificate") if ca_file is not None else None
    key = read_pem(client_key, "client private key") if client_key is not None else None
    cert = read_pem(client_cert, "client certificate") if client_cert is not None else None
    return grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=cert)


def add_port(server: grpc.Server, address: str, settings: TlsSettings | None) -> int:
    """Listen on ``address`` with TLS when ``settings`` are given, else in plaintext; the bound port.

    grpc answers a failed bind with port 0 rather than an exception; this raises instead.
    """
    if settings is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, server_credentials(settings))
    if port == 0:
        raise ThiduaError(f"cannot listen on {address}")
    return port
