"""The arguments every command that reads a spec shares, declared and read in one place:
the spec path, `--set NAME=VALUE` (override a top-level param), `--include-path DIR`
(another directory `include:` may read from) and `--limit NAME=N` (a safety cap)."""

from __future__ import annotations


def add_spec_arguments(p, optional: bool = False) -> None:
    p.add_argument("spec", nargs="?" if optional else None,
                   help="the spec file (YAML) or a zoo name")
    add_override_arguments(p)


def add_override_arguments(p) -> None:
    """--set, --include-path and --limit, for a command that names its spec otherwise."""
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a top-level param of the spec, e.g. k=24 or "
                        "'stages=[[1, 16], [6, 24]]' (repeatable)")
    p.add_argument("--include-path", action="append", default=[], metavar="DIR",
                   help="a directory outside the spec's tree that include: may read "
                        "(repeatable; searched in order after the including file's directory)")
    p.add_argument("--limit", action="append", default=[], metavar="NAME=N",
                   help="raise (or lower) a safety limit, e.g. max_params=500000000; "
                        "repeatable; see docs/fuzzing.md for the names")


def spec_options(args) -> dict:
    """The keyword arguments of `linkc.build` / `linkc.compile` that the flags give."""
    from ..frontend import Limits
    from ..spec.overrides import parse_sets

    return {"params": parse_sets(args.set), "limits": Limits().parse(args.limit),
            "include_path": list(args.include_path)}


def build_spec(args):
    """The checked flat graph of the command's spec (a file or a zoo name)."""
    from ..frontend import build

    return build(args.spec, **spec_options(args))
