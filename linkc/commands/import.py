"""Turn an existing PyTorch model into an editable spec, with its weights.

    linkc import models.py:build_net --input 3,32,32 -o net.yaml --weights-out net.safetensors
    linkc import mypackage.models:resnet --kwargs '{"depth": 56}' --input 3,32,32 -o net.yaml

TARGET is FILE.py:FACTORY or package.module:FACTORY (a class is a factory too); it is
called with --kwargs and must return an nn.Module. This runs your code, on purpose;
the spec it writes runs none. The module is traced with torch.fx (in eval mode) and
written with blocks, repeats and dense patterns found in its module tree; with
--weights-out, `linkc.compile(net.yaml)` loaded with those weights computes what the
module computes. `linkc import` of a `model.py` that `linkc compile` wrote gives the
spec back.

With --onto SPEC no spec is written: the module's weights are paired with the layers of
a spec you have (by the graph both compute, not by registration order), the outputs
are checked to agree, and --weights-out holds them under the spec's names; where the
two graphs part, the first node is named (exit 2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .specargs import add_override_arguments, spec_options


def add_arguments(p) -> None:
    p.add_argument("target", metavar="TARGET", help="FILE.py:FACTORY or package.module:FACTORY")
    p.add_argument("--input", action="append", metavar="C,H,W",
                   help="shape of one input sample (repeat for several inputs); "
                        "required unless --onto")
    p.add_argument("--kwargs", default="{}", metavar="JSON", help="arguments of the factory")
    p.add_argument("-o", "--output", metavar="SPEC.yaml", help="write the spec here "
                                                              "(default: print it)")
    p.add_argument("--weights-out", metavar="FILE.safetensors",
                   help="the module's weights under the spec's names")
    p.add_argument("--name", help="the spec's name (default: from the class)")
    p.add_argument("--onto", metavar="SPEC", help="write no spec: carry the module's weights "
                   "onto this spec (a file or zoo name), paired by structure")
    add_override_arguments(p)  # for the --onto spec


def _shape(text: str) -> tuple[int, ...]:
    from ..errors import UsageError

    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise UsageError(f"--input expects positive sizes such as 3,32,32, got '{text}'")
    return shape


def run(args) -> int:
    from ..errors import UsageError
    from ..importer import import_module, load_factory

    if args.onto and (args.output or args.input or args.name):
        raise UsageError("--onto takes its input shape and names from the spec: leave out "
                         "-o, --input and --name")
    if not args.onto and not args.input:
        raise UsageError("--input C,H,W is required (or --onto SPEC)")
    if not args.onto and (args.set or args.include_path or args.limit):
        raise UsageError("--set, --include-path and --limit apply to the --onto spec")
    try:
        kwargs = json.loads(args.kwargs)
    except ValueError as exc:
        raise UsageError(f"--kwargs is not JSON ({exc}): {args.kwargs}") from None
    if not isinstance(kwargs, dict):
        raise UsageError("--kwargs must be a JSON object such as '{\"depth\": 56}'")
    module = load_factory(args.target, kwargs)
    if args.onto:
        return _onto(module, args)
    shapes = [_shape(s) for s in args.input]
    result = import_module(module, shapes if len(shapes) > 1 else shapes[0], name=args.name,
                           source=args.target)
    if args.output:
        Path(args.output).write_text(result.spec)
    else:
        sys.stdout.write(result.spec)
    if args.weights_out:
        from safetensors.torch import save_file

        save_file(result.weights, args.weights_out)
    print(f"{args.target}: {result.nodes} nodes, {result.params:,} parameters"
          + (f" -> {args.output}" if args.output else "")
          + (f", weights -> {args.weights_out}" if args.weights_out else ""), file=sys.stderr)
    return 0


def _onto(module, args) -> int:
    from ..importer.transfer import transfer_weights

    result = transfer_weights(module, args.onto, **spec_options(args))
    if args.weights_out:
        from safetensors.torch import save_file

        save_file(result.weights, args.weights_out)
    agree = ("outputs equal" if result.difference == 0 else
             f"outputs agree within {result.difference:.1g} of their magnitude")
    print(f"{args.target} -> {args.onto}: {len(result.pairs)} layers paired, {agree}"
          + (f", weights -> {args.weights_out}" if args.weights_out else ""), file=sys.stderr)
    return 0
