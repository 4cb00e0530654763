"""Authentication and authorization of gRPC calls: bearer tokens with roles (SPEC §5).

This module owns who may call what:

- a call carries ``authorization: Bearer <token>`` in its metadata; the
  server knows only the SHA-256 (hex) of each token and the token's role, so
  a leaked configuration reveals no usable token;
- ``reader`` may score, check, compare and read; ``editor`` may also write
  (publish, store, put, commit — see `required_role`);
- health checks (``grpc.health.v1.Health``) need no token, so load
  balancers and orchestrators can probe the server;
- no valid token → ``UNAUTHENTICATED``; a reader calling a write →
  ``PERMISSION_DENIED``. Tokens are never logged.

Tokens come from ``THIDUA_TOKENS`` (``sha256hex:role,…``) and/or a file named
by ``THIDUA_TOKENS_FILE`` (one ``sha256hex:role`` per line, ``#`` comments).
Authentication is off only with the explicit development flag
``--insecure-no-auth``, which logs a loud warning (`insecure_warning`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from dsl.errors import ThiduaError

READER, EDITOR = "reader", "editor"
ROLES = (READER, EDITOR)
_RANK = {READER: 1, EDITOR: 2}

ENV_TOKENS = "THIDUA_TOKENS"
ENV_TOKENS_FILE = "THIDUA_TOKENS_FILE"

#: Services callable without a token: health probes come from infrastructure that holds none.
PUBLIC_SERVICES = ("grpc.health.v1.Health",)

#: Method-name prefixes that change stored data: an editor's privilege. Classifying by verb
#: means a write RPC added later is protected without anyone remembering to list it here.
WRITE_VERBS = ("Publish", "Store", "Put", "Commit", "Delete", "Retire", "Import", "Record", "Save")

#: Methods that write only when the request asks to (``ComputeRotation`` with ``commit`` set):
#: method name → predicate over the deserialized request.
CONDITIONAL_WRITES: Mapping[str, Callable[[Any], bool]] = {
    "ComputeRotation": lambda request: bool(getattr(request, "commit", False)),
}

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_log = logging.getLogger("thidua.auth")


class AuthConfigError(ThiduaError):
    """A token configuration the server cannot use (names the entry and why)."""


NO_TOKENS = (
    f"no tokens configured: set {ENV_TOKENS} or {ENV_TOKENS_FILE} "
    "(or run with --insecure-no-auth for development only)"
)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is configured."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenTable:
    """Configured tokens: SHA-256 hex digest → role."""

    roles: Mapping[str, str] = field(default_factory=dict)

    def role_of(self, token: str) -> str | None:
        """The role of ``token``, or None when it is not configured."""
        digest = hash_token(token)
        found: str | None = None
        # Compare against every entry in constant time per entry: no early exit that a
        # stopwatch could read.
        for known, role in self.roles.items():
            if hmac.compare_digest(known, digest):
                found = role
        return found

    def __len__(self) -> int:
        return len(self.roles)


def _entry(text: str, where: str) -> tuple[str, str]:
    digest, sep, role = text.strip().partition(":")
    digest, role = digest.strip().lower(), role.strip()
    if not sep:
        raise AuthConfigError(f"{where}: expected SHA256HEX:ROLE, got {text.strip()!r}")
    if not _HEX64.match(digest):
        raise AuthConfigError(
            f"{where}: {digest[:16]!r}… is not a SHA-256 hex digest (64 hex digits); "
            "configure the hash of the token, never the token itself"
        )
    if role not in ROLES:
        raise AuthConfigError(f"{where}: unknown role {role!r}; roles are {', '.join(ROLES)}")
    return digest, role


def parse_tokens(spec: str, source: str = ENV_TOKENS) -> dict[str, str]:
    """Entries of a ``sha256hex:role,…`` list; `AuthConfigError` names the bad entry."""
    out: dict[str, str] = {}
    for i, item in enumerate(spec.split(","), start=1):
        if item.strip():
            digest, role = _entry(item, f"{source} entry {i}")
            out[digest] = role
    return out


def read_tokens_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Entries of a tokens file: one ``sha256hex:role`` per line; blank lines and ``#`` comments ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AuthConfigError(f"cannot read tokens file {path}: {exc.strerror}") from None
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0]
        if content.strip():
            digest, role = _entry(content, f"{path}:{number}")
            out[digest] = role
    return out


def load_tokens(
    spec: str | None = None,
    file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TokenTable:
    """Tokens from ``spec`` and ``file``, each falling back to its environment variable; both may be given."""
    env = os.environ if environ is None else environ
    spec = spec if spec is not None else env.get(ENV_TOKENS)
    file = file if file is not None else env.get(ENV_TOKENS_FILE)
    roles: dict[str, str] = {}
    if file:
        roles.update(read_tokens_file(file))
    if spec:
        roles.update(parse_tokens(spec))
    return TokenTable(roles)


def required_role(method: str) -> str | None:
    """The role a full method name (``/package.Service/Method``) needs; None for public methods."""
    service, _, name = method.lstrip("/").partition("/")
    if service in PUBLIC_SERVICES:
        return None
    return EDITOR if name.startswith(WRITE_VERBS) else READER


def bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The token of an ``authorization: Bearer <token>`` metadata entry, or None."""
    for key, value in metadata or ():
        if key.lower() != "authorization":
            continue
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        scheme, _, token = text.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def metadata_for(token: str) -> tuple[tuple[str, str]]:
    """Client-side: the metadata that authenticates a call with ``token``."""
    return (("authorization", f"Bearer {token}"),)


def _denied(
    handler: grpc.RpcMethodHandler[Any, Any] | None, code: grpc.StatusCode, message: str
) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same shape as ``handler`` that ends the call with ``code``."""

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(code, message)

    def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        context.abort(code, message)

    deserializer = handler.request_deserializer if handler is not None else None
    serializer = handler.response_serializer if handler is not None else None
    if handler is None or not (handler.request_streaming or handler.response_streaming):
        return grpc.unary_unary_rpc_method_handler(unary, deserializer, serializer)
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(streaming, deserializer, serializer)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(unary, deserializer, serializer)
    return grpc.unary_stream_rpc_method_handler(streaming, deserializer, serializer)


def _guard_conditional(
    handler: grpc.RpcMethodHandler[Any, Any], writes: Callable[[Any], bool], method: str
) -> grpc.RpcMethodHandler[Any, Any]:
    """Wrap a unary-request handler so that a request asking to write needs an editor."""
    message = f"{method} with this request writes stored data; it needs the editor role"

    if handler.unary_unary is not None:
        inner_uu = handler.unary_unary

        def unary_unary(request: Any, context: grpc.ServicerContext) -> Any:
            if writes(request):
                context.abort(grpc.StatusCode.PERMISSION_DENIED, message)
            return inner_uu(request, context)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream is not None:
        inner_us = handler.unary_stream

        def unary_stream(request: Any, context: grpc.ServicerContext) -> Any:
            if writes(request):
                context.abort(grpc.StatusCode.PERMISSION_DENIED, message)
            yield from inner_us(request, context)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, handler.request_deserializer, handler.response_serializer
        )
    return handler


class AuthInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]  # grpc-stubs: generic over request/response
    """Checks every call's bearer token and role before the servicer sees it."""

    def __init__(self, tokens: TokenTable) -> None:
        if not len(tokens):
            raise AuthConfigError(NO_TOKENS)
        self._tokens = tokens

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        need = required_role(method)
        handler = continuation(handler_call_details)
        if need is None:
            return handler
        token = bearer_token(handler_call_details.invocation_metadata)
        if token is None:
            _log.warning("call refused: no bearer token", extra={"method": method})
            return _denied(
                handler,
                grpc.StatusCode.UNAUTHENTICATED,
                "this call needs a bearer token (metadata 'authorization: Bearer <token>')",
            )
        role = self._tokens.role_of(token)
        if role is None:
            _log.warning("call refused: unknown token", extra={"method": method})
            return _denied(handler, grpc.StatusCode.UNAUTHENTICATED, "the bearer token is not valid")
        if _RANK[role] < _RANK[need]:
            _log.warning("call refused: role %s may not call %s", role, method)
            return _denied(
                handler,
                grpc.StatusCode.PERMISSION_DENIED,
                f"{method.rsplit('/', 1)[-1]} writes stored data; it needs the {need} role (token has {role})",
            )
        if handler is None:
            return None
        writes = CONDITIONAL_WRITES.get(method.rsplit("/", 1)[-1])
        if writes is not None and role != EDITOR:
            return _guard_conditional(handler, writes, method.rsplit("/", 1)[-1])
        return handler


INSECURE_WARNING = (
    "AUTHENTICATION IS OFF (--insecure-no-auth): every client can read AND WRITE everything. "
    "Use this for local development only; configure THIDUA_TOKENS for any shared server."
)


def insecure_warning(logger: logging.Logger | Any | None = None) -> None:
    """Log the loud warning that ``--insecure-no-auth`` must produce (stdlib or structlog logger)."""
    (logger or _log).warning(INSECURE_WARNING)


def server_interceptors(
    *, insecure_no_auth: bool, tokens: TokenTable | None = None, logger: Any | None = None
) -> Sequence[grpc.ServerInterceptor[Any, Any]]:
    """The interceptors a server needs: auth, or none (with the warning) under ``--insecure-no-auth``."""
    if insecure_no_auth:
        insecure_warning(logger)
        return ()
    return (AuthInterceptor(tokens if tokens is not None else load_tokens()),)


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """How the server authenticates: the configured tokens, or off by ``--insecure-no-auth``."""

    insecure_no_auth: bool = False
    tokens: TokenTable = field(default_factory=TokenTable)


def interceptors_for(
    settings: AuthSettings | None, logger: Any | None = None
) -> Sequence[grpc.ServerInterceptor[Any, Any]]:
    """The auth interceptors for ``settings``; None (a server built in code, not by `thidua serve`) has none."""
    if settings is None:
        return ()
    return server_interceptors(
        insecure_no_auth=settings.insecure_no_auth, tokens=settings.tokens, logger=logger
    )


def require_usable(settings: AuthSettings | None) -> None:
    """Fail fast (`AuthConfigError`) when auth is on but no token is configured: no call could succeed."""
    if settings is not None and not settings.insecure_no_auth and not len(settings.tokens):
        raise AuthConfigError(NO_TOKENS)
