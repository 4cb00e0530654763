"""The ``thidua`` subcommands, one module each, discovered by `service.cli`.

A module here becomes a subcommand by defining::

    def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        parser = subparsers.add_parser("check", help="...")
        parser.add_argument(...)
        parser.set_defaults(func=handler)

where ``handler(args: argparse.Namespace) -> int`` returns the exit code.
Modules are imported in sorted name order; a module without ``register``
(a helper shared by several commands, say) is imported and otherwise ignored.
Modules whose name starts with ``_`` are skipped.
"""
