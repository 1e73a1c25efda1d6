"""The front door: loomline COMMAND [options].

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``;
this file only wires them up, importing a module when its command runs so that the hook
bridge (run by Claude Code many times a minute) starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

# command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("loomline.serve", "run the receivers, enrichment and query API in one process"),
    "hook": ("bridge.hook", "Claude Code command hook: forward the hook's JSON (stdin) as an OTLP log record"),
    "install-hooks": ("bridge.install_hooks", "add loomline's hook to Claude Code settings"),
    "schema": ("loomline.schema", "print the DDL of every migration, single node or ON CLUSTER"),
    "demo": ("loomline.demo", "fill a loomline database with a realistic synthetic fleet"),
    "import": ("importer.command", "import Claude Code transcripts (~/.claude/projects) into loomline"),
}


class CommandParser(argparse.ArgumentParser):
    """A command's parser: a bad option is one line naming the command and its --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from loomline import __version__

    parser = argparse.ArgumentParser(
        prog="loomline",
        description="Claude Code telemetry in ClickHouse: receive OTLP, enrich it into conversations, query it.",
        epilog="Run 'loomline COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"loomline {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # command not built yet in this checkout
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module, _parser=command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Fast path for the hook bridge: skip building every subcommand's parser.
    if argv[:1] == ["hook"]:
        module = importlib.import_module("bridge.hook")
        parser = argparse.ArgumentParser(prog="loomline hook")
        module.add_arguments(parser)
        return int(module.run(parser.parse_args(argv[1:])))
    parser = build_parser()
    # Unknown options are reported by the command's own parser (its name, its --help),
    # not by the top-level one.
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        (getattr(args, "_parser", None) or parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    return int(args._module.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
