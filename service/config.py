"""The service's configuration: one frozen record built from flags and environment in one place.

Precedence: a command-line flag wins over its environment variable, which wins
over the default. `docs/service.md` has the table; keep the two in step.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily below: every CLI command loads this module, few need gRPC or SQL
    from service.auth import AuthSettings
    from service.tls import TlsSettings

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_RULESETS = "rulesets"
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A flag or environment variable with a value the service cannot use (names which and why)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request limits; each exceeded limit is answered with a status naming it, never a crash."""

    #: Largest request or response message, bytes (gRPC answers RESOURCE_EXHAUSTED above it).
    max_message_bytes: int = 4 * 1024 * 1024
    #: Largest ruleset source text (ValidateRuleset, PublishRuleset, CompareRulesets), bytes of UTF-8.
    max_source_bytes: int = 1024 * 1024
    #: Deepest nesting of brackets/expressions in a ruleset source.
    max_nesting_depth: int = 64
    #: Most items in one list value of a submission.
    max_list_length: int = 10_000
    #: Most units (members or submissions) in one bloc case.
    max_units_per_bloc: int = 2_000
    #: Most cases in one CompareRulesets request.
    max_cases: int = 100


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything `thidua serve` needs to start; immutable once built."""

    address: str = DEFAULT_ADDRESS
    rulesets: Path = Path(DEFAULT_RULESETS)
    workers: int = 1
    threads: int = 8
    #: Threads for streaming calls (ScoreStream, reflection, health Watch), apart from `threads`.
    stream_threads: int = 8
    grace_seconds: float = 10.0
    log_format: str = "json"
    log_level: str = "info"
    cache_size: int = 64
    #: Seconds a rulesets-folder file's stat is trusted before it is checked again (0: every call).
    rulesets_recheck_seconds: float = 1.0
    limits: Limits = field(default_factory=Limits)
    # -- persistence and security (docs/persistence.md, docs/security.md). None = not configured:
    # a server built in code (tests) has no database, no auth and no TLS; `build_config`, which
    # `thidua serve` uses, always fills database_url and auth.
    database_url: str | None = None
    auth: AuthSettings | None = None
    tls: TlsSettings | None = None
    #: Record every answered evaluation in the database (SPEC §4), when there is one.
    record_evaluations: bool = True

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])


#: Flag name → (environment variable, help). The flags' defaults are None so that
#: "not given" is distinguishable and the environment can fill in.
_OPTIONS: dict[str, tuple[str, str]] = {
    "address": ("THIDUA_ADDRESS", f"HOST:PORT to listen on (default {DEFAULT_ADDRESS})"),
    "rulesets": (
        "THIDUA_RULESETS",
        f"folder of rulesets <name>/<version>.rules (default {DEFAULT_RULESETS}/)",
    ),
    "workers": ("THIDUA_WORKERS", "server processes sharing the port via SO_REUSEPORT (default 1)"),
    "threads": ("THIDUA_THREADS", "threads for unary calls per process (default 8)"),
    "stream_threads": (
        "THIDUA_STREAM_THREADS",
        "threads for streaming calls per process: the most streams served at once (default 8)",
    ),
    "grace_seconds": (
        "THIDUA_GRACE_SECONDS",
        "seconds in-flight calls get to finish on SIGTERM (default 10)",
    ),
    "log_format": ("THIDUA_LOG_FORMAT", "json or console (default: console on a terminal, else json)"),
    "log_level": ("THIDUA_LOG_LEVEL", "debug, info, warning or error (default info)"),
    "cache_size": ("THIDUA_CACHE_SIZE", "compiled rulesets kept in memory, by SHA-256 (default 64)"),
    "rulesets_recheck_seconds": (
        "THIDUA_RULESETS_RECHECK_SECONDS",
        "seconds before a rulesets-folder file is looked at again for changes (default 1; 0: every call)",
    ),
    "max_message_bytes": ("THIDUA_MAX_MESSAGE_BYTES", "largest gRPC message in bytes (default 4 MiB)"),
    "max_source_bytes": ("THIDUA_MAX_SOURCE_BYTES", "largest ruleset source in bytes (default 1 MiB)"),
    "max_nesting_depth": ("THIDUA_MAX_NESTING_DEPTH", "deepest expression nesting in a ruleset (default 64)"),
    "max_list_length": ("THIDUA_MAX_LIST_LENGTH", "most items in one list input (default 10000)"),
    "max_units_per_bloc": ("THIDUA_MAX_UNITS_PER_BLOC", "most units in one bloc case (default 2000)"),
    "max_cases": ("THIDUA_MAX_CASES", "most cases in one CompareRulesets call (default 100)"),
    # -- persistence and security
    "database_url": (
        "THIDUA_DATABASE_URL",
        "database URL (default sqlite:///var/thidua.db; postgresql+psycopg://…)",
    ),
    "tokens_file": (
        "THIDUA_TOKENS_FILE",
        "file of SHA256HEX:ROLE lines (also THIDUA_TOKENS=SHA256HEX:ROLE,…)",
    ),
    "tls_cert": ("THIDUA_TLS_CERT", "TLS certificate chain, PEM (with --tls-key: serve TLS)"),
    "tls_key": ("THIDUA_TLS_KEY", "TLS private key, PEM"),
    "tls_client_ca": ("THIDUA_TLS_CLIENT_CA", "CA bundle, PEM: require client certificates (mutual TLS)"),
}

_LIMIT_NAMES = frozenset(f.name for f in fields(Limits))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the service's flags (``--address``, ``--rulesets``, …) to ``parser``."""
    for name, (env, help_text) in _OPTIONS.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=None,
            metavar=env.removeprefix("THIDUA_"),
            help=f"{help_text}; env {env}",
        )
    parser.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="DEVELOPMENT ONLY: accept calls without a bearer token (logs a loud warning); no env variable",
    )
    parser.add_argument(
        "--no-record-evaluations",
        dest="no_record_evaluations",
        action="store_true",
        help="do not store every answered evaluation in the database (e.g. for benchmarks); "
        "env THIDUA_RECORD_EVALUATIONS=0",
    )


def _seconds(name: str, raw: str) -> float:
    """A number of seconds, at least 0 (finite), or a ConfigError naming the option."""
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not 0 <= value < float("inf"):
        raise ConfigError(f"{name} must be at least 0, got {raw}")
    return value


def _positive_int(name: str, raw: str, minimum: int = 1) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _address(raw: str) -> str:
    host, sep, port = raw.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"address must be HOST:PORT, got {raw!r}")
    _positive_int("address port", port, minimum=0)
    if int(port) > 65535:
        raise ConfigError(f"address port must be at most 65535, got {port}")
    return raw


def build_config(
    args: argparse.Namespace | None = None,
    env: Mapping[str, str] | None = None,
    *,
    stderr_is_tty: bool | None = None,
) -> ServerConfig:
    """The configuration from parsed flags (``args``) and the environment (``env``, default os.environ).

    Raises `ConfigError` naming the flag or variable whose value is unusable.
    """
    env = os.environ if env is None else env
    raw: dict[str, str] = {}
    for name, (var, _help) in _OPTIONS.items():
        flag = getattr(args, name, None) if args is not None else None
        if flag is not None:
            raw[name] = str(flag)
        elif env.get(var):
            raw[name] = env[var]

    if stderr_is_tty is None:
        stderr_is_tty = sys.stderr.isatty()
    log_format = raw.get("log_format", "console" if stderr_is_tty else "json")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    log_level = raw.get("log_level", "info").lower()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    grace = _seconds("grace seconds", raw.get("grace_seconds", "10"))
    recheck = _seconds("rulesets recheck seconds", raw.get("rulesets_recheck_seconds", "1"))

    limits = Limits(
        **{name: _positive_int(name.replace("_", " "), raw[name]) for name in _LIMIT_NAMES if name in raw}
    )
    from dsl.errors import ThiduaError
    from service.auth import AuthSettings, load_tokens
    from service.db.engine import default_url
    from service.tls import tls_settings

    try:
        auth = AuthSettings(
            insecure_no_auth=bool(getattr(args, "insecure_no_auth", False)),
            tokens=load_tokens(file=raw.get("tokens_file"), environ=env),
        )
        tls = tls_settings(raw.get("tls_cert"), raw.get("tls_key"), raw.get("tls_client_ca"), environ={})
    except ThiduaError as exc:
        raise ConfigError(exc.message) from None
    record_env = env.get("THIDUA_RECORD_EVALUATIONS", "1").strip().lower()
    if record_env not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ConfigError(f"THIDUA_RECORD_EVALUATIONS must be 1 or 0, got {record_env!r}")
    record = record_env in ("1", "true", "yes", "on") and not getattr(args, "no_record_evaluations", False)
    return ServerConfig(
        record_evaluations=record,
        database_url=raw.get("database_url") or default_url(),
        auth=auth,
        tls=tls,
        address=_address(raw.get("address", DEFAULT_ADDRESS)),
        rulesets=Path(raw.get("rulesets", DEFAULT_RULESETS)),
        workers=_positive_int("workers", raw.get("workers", "1")),
        threads=_positive_int("threads", raw.get("threads", "8")),
        stream_threads=_positive_int("stream threads", raw.get("stream_threads", "8")),
        grace_seconds=grace,
        log_format=log_format,
        log_level=log_level,
        cache_size=_positive_int("cache size", raw.get("cache_size", "64")),
        rulesets_recheck_seconds=recheck,
        limits=limits,
    )
