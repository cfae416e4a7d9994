"""Evaluate trained weights: accuracy and mean cross-entropy on a data set's test split.

`--weights` takes the weights.safetensors of a run directory (or of `linkc
compile`) or a training checkpoint (last/best.safetensors). The test split is
the one `linkc train` uses with the same `--data` and `--seed`.
"""

from __future__ import annotations

import json


from .specargs import add_spec_arguments, build_spec


def add_arguments(p) -> None:
    add_spec_arguments(p)
    p.add_argument("--weights", required=True, metavar="FILE",
                   help="weights.safetensors or a checkpoint (.safetensors)")
    p.add_argument("--data", default="digits",
                   help="digits (default), synthetic, cifar10:DIR, cifar100:DIR, imagefolder:DIR")
    p.add_argument("--seed", type=int, default=0, help="the training run's seed (digits and "
                                                       "image-folder splits depend on it)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    p.add_argument("--batch-size", type=int, default=512, help="evaluation batch size")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--max-memory", metavar="SIZE",
                   help="refuse a batch estimated to need more memory: bytes or 16G, 512M, "
                        "off (default: $LINKC_MAX_MEMORY, else the memory available)")


def run(args) -> int:
    from ..train.config import resolve_config
    from ..train.evaluate import evaluate_weights

    # the same checks and messages as linkc train
    resolve_config([("the command line", {"data": args.data, "device": args.device})])
    g = build_spec(args)
    result = evaluate_weights(g, args.weights, args.data, device=args.device,
                              batch_size=args.batch_size, seed=args.seed,
                              max_memory=args.max_memory)
    if args.json:
        print(json.dumps({"spec": g.name, "data": args.data, "samples": result.samples,
                          "accuracy": result.accuracy, "loss": result.loss}))
    else:
        print(f"{g.name} on {args.data} ({result.samples} test images): "
              f"accuracy {result.accuracy:.2%}, loss {result.loss:.4f}")
    return 0
