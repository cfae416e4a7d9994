"""Train a spec: `linkc train SPEC` trains on the built-in digits data set.

Settings come from the spec's `train:` section, then `--config FILE` (YAML),
then the flags below, later ones winning. A run directory (runs/NAME by
default) receives the spec, the resolved config, metrics (JSONL/CSV), a plot,
`last`/`best` checkpoints and the final model.py + weights.safetensors.
Ctrl-C saves a checkpoint; `--resume` continues a run exactly where it stopped, with
the network it was started with (a checkpoint records its expanded graph: another one is
refused, naming the first node that differs).
For several GPUs or nodes, start it with `torchrun --nproc_per_node N -m linkc train SPEC`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import typing

from .specargs import add_spec_arguments, build_spec


def _is_bool(annotation) -> bool:
    return annotation is bool or (typing.get_origin(annotation) is typing.Union
                                  and bool in typing.get_args(annotation))


def add_arguments(p) -> None:
    from ..train.config import TrainConfig

    add_spec_arguments(p)
    p.add_argument("--config", metavar="FILE", help="YAML file of training settings")
    p.add_argument("--resume", nargs="?", const=True, metavar="RUN_DIR|CHECKPOINT",
                   help="continue a run of the same network: its directory or checkpoint "
                        "file (default: the run directory's last.safetensors)")
    group = p.add_argument_group("training settings (override the spec's train: section "
                                 "and --config)")
    for name, field in TrainConfig.model_fields.items():
        flag = "--" + name.replace("_", "-")
        text = field.description + ("" if field.default is None else f" (default: {field.default})")
        if _is_bool(field.annotation):
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=text)
        else:
            group.add_argument(flag, dest=name, default=argparse.SUPPRESS,
                               metavar=name.split("_")[-1].upper(), help=text)


def _flags(args) -> dict:
    from ..train.config import field_names

    return {k: getattr(args, k) for k in field_names() if hasattr(args, k)}


def resume_command(args, run_dir) -> str:
    """The command that continues this run: the same settings plus --resume."""
    words = ["linkc", "train", str(args.spec)]
    for flag in ("set", "include_path", "limit"):  # the same network, built the same way
        for value in getattr(args, flag, None) or []:
            words += ["--" + flag.replace("_", "-"), value]
    if args.config:
        words += ["--config", str(args.config)]
    for key, value in _flags(args).items():
        if key == "run_dir":
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            words += [flag, str(value)]
    words += ["--resume", str(run_dir)]
    return shlex.join(words)


def run(args) -> int:
    from ..train.config import load_config_file, resolve_config
    from ..train.train import TrainingDiverged, TrainingInterrupted, train
    g = build_spec(args)
    for w in g.diagnostics.warnings:
        print(w, file=sys.stderr)
    sources = [(f"{args.spec}: train:", g.train or {})]
    if args.config:
        sources.append((f"--config {args.config}", load_config_file(args.config)))
    sources.append(("the command line", _flags(args)))
    config = resolve_config(sources)
    try:
        train(g, config, resume=args.resume)
    except TrainingInterrupted as stop:
        print(f"\nInterrupted at step {stop.step}; checkpoint saved to {stop.checkpoint}.\n"
              f"To resume: {resume_command(args, stop.run_dir)}", file=sys.stderr)
        return 130
    except TrainingDiverged as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0
