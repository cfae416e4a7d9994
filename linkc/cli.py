"""The `linkc` command line: parse arguments, call the library, map errors to exit codes.

Each subcommand lives in `linkc/commands/<name>.py` with `add_arguments(parser)`
and `run(args) -> int`. Exit codes: 0 success, 2 bad spec, data or usage,
1 anything else, always as a short message rather than a traceback
(set LINKC_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from .errors import UsageError, UserError  # noqa: F401 - UsageError: linkc.cli.UsageError still works

COMMANDS = {
    "check": "validate a spec, infer every shape, print a summary",
    "compile": "lower a spec to a torch.fx module and write model.py + weights",
    "render": "draw the DAG (.svg .png .pdf .dot .mmd .html)",
    "analyze": "parameters, MACs, activation memory and path statistics",
    "train": "train a spec (digits by default; CIFAR, image folders, synthetic)",
    "evaluate": "accuracy and loss of trained weights",
    "bench": "throughput and memory against hand-written PyTorch",
    "export": "export to ONNX, torch.export or TorchScript",
    "schema": "write the JSON Schema of the spec language",
    "zoo": "list the model zoo with parameter counts next to the papers'",
    "sweep": "train the variants of a topology family; a table and plots",
    "import": "write a spec (and its weights) from an existing PyTorch module",
    "ops": "list every op and merge with its signature, doc and origin (built-in or plugin)",
}


def _available() -> dict[str, object]:
    found = {}
    for name in COMMANDS:
        try:
            found[name] = importlib.import_module(f"linkc.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"linkc.commands.{name}":
                raise
    return found


def _command_of(argv: Sequence[str] | None) -> str | None:
    """The subcommand named on the command line: the first word that is not an
    option (the top-level options, --help and --version, take no value)."""
    return next((w for w in argv or () if not w.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None
                 ) -> tuple[argparse.ArgumentParser, dict[str, object]]:
    """The parser with every subcommand listed, and the arguments of the one that
    `argv` names (all of them when it names none): a command's arguments may
    import what it needs (train's come from its config model), and `linkc check`
    should not pay for them."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="linkc", description="Compile neural-network topologies written in YAML into "
                                  "PyTorch modules.")
    parser.add_argument("--version", action="version", version=f"linkc {__version__}")
    parser.add_argument("--no-plugins", action="store_true", default=False,
                        help="do not load installed plugins (also: LINKC_NO_PLUGINS=1)")
    # accepted after the command too; SUPPRESS keeps the subparser from resetting it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--no-plugins", action="store_true", default=argparse.SUPPRESS,
                        help="do not load installed plugins (also: LINKC_NO_PLUGINS=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = _available()
    chosen = _command_of(argv)
    for name, module in commands.items():
        p = sub.add_parser(name, help=COMMANDS[name], description=module.__doc__,
                           parents=[common])
        if chosen not in commands or chosen == name:
            module.add_arguments(p)
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, commands = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return 0 if exc.code == 0 else 2
    if not args.command:
        parser.print_help()
        return 2
    module = commands[args.command]
    try:
        from .ops import plugins

        with plugins.turned_off(args.no_plugins):
            plugins.load()
            return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("linkc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        if os.environ.get("LINKC_DEBUG"):
            raise
        if isinstance(exc, UserError):
            print(str(exc), file=sys.stderr)
            return 2
        if isinstance(exc, MemoryError):
            print("linkc: out of memory; try a smaller batch size or input", file=sys.stderr)
            return 1
        print(f"linkc: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in linkc, not in your spec; run again with LINKC_DEBUG=1 "
              "for the traceback.", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
