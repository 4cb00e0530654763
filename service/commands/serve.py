"""``thidua serve``: run the gRPC service (configuration in `service.config`, docs/service.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.config import ConfigError, add_arguments, build_config


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="run the gRPC service (thidua.v1)",
        description="Serve the thidua.v1 gRPC API (rulesets, scoring, titles, rotation) with health "
        "checking and reflection. Flags override THIDUA_* environment variables.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the configuration, set up logging and serve until SIGTERM/SIGINT."""
    # Imported here so that other commands do not pay for loading gRPC.
    from service import logging as service_logging
    from service.server import serve

    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"thidua serve: {exc}", file=sys.stderr)
        return 2
    service_logging.configure(config.log_format, config.log_level)
    if not config.rulesets.is_dir():
        print(f"thidua serve: the rulesets folder {config.rulesets} does not exist", file=sys.stderr)
        return 2
    # Persistence (docs/persistence.md): migrate and import the rulesets before any worker starts.
    import structlog

    from dsl.errors import ThiduaError
    from service.auth import require_usable
    from service.db.startup import open_store

    try:
        require_usable(config.auth)  # before any database work: fail fast on a missing token setup
        store = open_store(
            config.database_url,
            config.rulesets,
            structlog.get_logger("thidua.db"),
            background_import=config.workers == 1,
        )
    except ThiduaError as exc:
        print(f"thidua serve: {exc.message}", file=sys.stderr)
        return 2
    try:
        return serve(config, publisher=store)
    except ConfigError as exc:
        print(f"thidua serve: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """``python -m service.commands.serve [FLAGS]``: the same as ``thidua serve`` without loading the other commands."""
    parser = argparse.ArgumentParser(prog="thidua serve")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
