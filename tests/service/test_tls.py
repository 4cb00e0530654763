"""service.tls: TLS and mutual TLS on a real gRPC server, and settings errors named before start."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from service.tls import TlsConfigError, TlsSettings, add_port, channel_credentials, tls_settings
from tests.service.tls_certs import Authority, Pair, issue, make_authority


@dataclass(frozen=True)
class Pki:
    """A CA with a server and a client certificate, and a second CA the server does not trust."""

    ca: Authority
    server: Pair
    client: Pair
    stranger: Pair


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates generated for this module."""
    folder = tmp_path_factory.mktemp("pki")
    ca = make_authority(folder, "thidua-test-ca")
    other = make_authority(folder, "other-ca")
    return Pki(
        ca=ca,
        server=issue(folder, ca, "server", server=True),
        client=issue(folder, ca, "client", server=False),
        stranger=issue(folder, other, "stranger", server=False),
    )


def _serve(settings: TlsSettings | None) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = add_port(server, "127.0.0.1:0", settings)
    server.start()
    return server, port


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[int]:
    """A server with TLS (no client certificates); yields its port."""
    server, port = _serve(TlsSettings(pki.server.cert, pki.server.key))
    yield port
    server.stop(None)


@pytest.fixture
def mtls_server(pki: Pki) -> Iterator[int]:
    """A server requiring client certificates signed by the test CA; yields its port."""
    server, port = _serve(TlsSettings(pki.server.cert, pki.server.key, pki.ca.cert))
    yield port
    server.stop(None)


def _check(channel: grpc.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    response = stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    status: int = response.status
    return status


def _secure(port: int, credentials: grpc.ChannelCredentials) -> grpc.Channel:
    return grpc.secure_channel(f"localhost:{port}", credentials)


def test_tls_client_trusting_the_ca_is_served(pki: Pki, tls_server: int) -> None:
    """A client that trusts the server's CA completes the handshake and gets an answer."""
    with _secure(tls_server, channel_credentials(pki.ca.cert)) as channel:
        assert health_pb2.HealthCheckResponse.SERVING == _check(channel)


def test_plaintext_client_cannot_talk_to_a_tls_server(tls_server: int) -> None:
    """A plaintext client gets no answer from a TLS port."""
    with grpc.insecure_channel(f"localhost:{tls_server}") as channel, pytest.raises(grpc.RpcError) as caught:
        _check(channel)
    assert grpc.StatusCode.UNAVAILABLE == caught.value.code()


def test_client_not_trusting_the_server_refuses_it(pki: Pki, tls_server: int, tmp_path: Path) -> None:
    """A client whose trust store lacks the server's CA fails the handshake."""
    other = make_authority(tmp_path, "unrelated-ca")
    with (
        _secure(tls_server, channel_credentials(other.cert)) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        _check(channel)
    assert grpc.StatusCode.UNAVAILABLE == caught.value.code()


def test_mtls_serves_a_client_with_a_certificate_from_the_ca(pki: Pki, mtls_server: int) -> None:
    """Under mutual TLS a client presenting a certificate signed by the client CA is served."""
    credentials = channel_credentials(pki.ca.cert, pki.client.cert, pki.client.key)
    with _secure(mtls_server, credentials) as channel:
        assert health_pb2.HealthCheckResponse.SERVING == _check(channel)


def test_mtls_refuses_a_client_without_a_certificate(pki: Pki, mtls_server: int) -> None:
    """Under mutual TLS a client presenting no certificate is refused."""
    with (
        _secure(mtls_server, channel_credentials(pki.ca.cert)) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        _check(channel)
    assert grpc.StatusCode.UNAVAILABLE == caught.value.code()


def test_mtls_refuses_a_certificate_from_another_ca(pki: Pki, mtls_server: int) -> None:
    """Under mutual TLS a client certificate signed by an untrusted CA is refused."""
    credentials = channel_credentials(pki.ca.cert, pki.stranger.cert, pki.stranger.key)
    with _secure(mtls_server, credentials) as channel, pytest.raises(grpc.RpcError) as caught:
        _check(channel)
    assert grpc.StatusCode.UNAVAILABLE == caught.value.code()


def test_settings_come_from_the_environment(pki: Pki) -> None:
    """THIDUA_TLS_CERT/KEY/CLIENT_CA configure TLS when no flags are given; nothing set means plaintext."""
    env = {
        "THIDUA_TLS_CERT": str(pki.server.cert),
        "THIDUA_TLS_KEY": str(pki.server.key),
        "THIDUA_TLS_CLIENT_CA": str(pki.ca.cert),
    }
    assert TlsSettings(pki.server.cert, pki.server.key, pki.ca.cert) == tls_settings(environ=env)
    assert None is tls_settings(environ={})


@pytest.mark.parametrize(
    ("cert", "key", "client_ca", "message"),
    [
        ("server.crt", None, None, "the private key \\(--tls-key\\) is missing"),
        (None, "server.key", None, "the certificate \\(--tls-cert\\) is missing"),
        (None, None, "ca.crt", "needs the server's own certificate and key"),
    ],
)
def test_incomplete_settings_are_refused(
    cert: str | None, key: str | None, client_ca: str | None, message: str
) -> None:
    """Half a key pair, or a client CA without a server certificate, is a TlsConfigError saying what is missing."""
    with pytest.raises(TlsConfigError, match=message):
        tls_settings(cert, key, client_ca, environ={})


def test_unreadable_or_non_pem_files_are_named(pki: Pki, tmp_path: Path) -> None:
    """A missing certificate file or a key that is not PEM is reported with its path before serving."""
    with pytest.raises(TlsConfigError, match=r"cannot read the TLS certificate .*nowhere\.crt"):
        _serve(TlsSettings(tmp_path / "nowhere.crt", pki.server.key))
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key")
    with pytest.raises(TlsConfigError, match=r"garbage\.key is not a PEM file"):
        _serve(TlsSettings(pki.server.cert, garbage))
