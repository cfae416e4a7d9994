"""The run directory: where a training run keeps everything it writes.

    runs/NAME/
      spec.yaml               the spec text as trained
      config.yaml             the resolved TrainConfig
      data.json               data set, class names, normalisation mean/std
      steps.jsonl, steps.csv  one row per optimizer step
      epochs.jsonl, epochs.csv  one row per epoch (train and test loss/accuracy)
      tensorboard/            event files, when tensorboard is installed
      plot.png                loss and accuracy curves
      last.safetensors        checkpoint after the latest epoch (or --checkpoint-every)
      best.safetensors        checkpoint with the best test accuracy so far
      model.py, weights.safetensors, graph.json   the final model, as `linkc compile` writes it

Metrics are appended and flushed row by row, so a killed run keeps what it
logged; on ``--resume`` rows past the checkpoint's step are dropped, so the
files read as one uninterrupted run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from .config import ConfigError, TrainConfig, config_yaml

__all__ = ["LAST", "BEST", "MetricsLog", "claim_run_dir", "open_run_dir", "refuse_taken",
           "loss_figure", "resume_target", "step_row", "write_artifacts", "write_plot",
           "write_text"]

LAST = "last.safetensors"
BEST = "best.safetensors"

STEP_COLUMNS = ["step", "epoch", "loss", "acc", "lr", "images_per_s", "time_s"]
EPOCH_COLUMNS = ["epoch", "step", "train_loss", "train_acc", "test_loss", "test_acc", "lr",
                 "epoch_s", "time_s"]


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "run"


def resume_target(spec_name: str, run_dir: str | None, resume: str | bool,
                  root: str | os.PathLike = "runs") -> tuple[Path, Path]:
    """(run directory, checkpoint) of ``--resume``: True is the run directory's last
    checkpoint (``run_dir``, else ``runs/NAME``); a path is a run directory or a
    checkpoint file."""
    if resume is True:
        base = Path(run_dir) if run_dir else Path(root) / _safe_name(spec_name)
        return base, base / LAST
    target = Path(resume)
    if target.is_dir():
        return (Path(run_dir) if run_dir else target), target / LAST
    return (Path(run_dir) if run_dir else target.parent), target


def refuse_taken(run_dir: str | None) -> None:
    """A fresh run never writes into an explicit ``run_dir`` that holds a run."""
    if run_dir and (Path(run_dir) / LAST).exists():
        raise ConfigError(
            f"run directory '{run_dir}' already holds a run ({LAST}). Pass --resume to "
            "continue it, or choose another --run-dir.")


def claim_run_dir(spec_name: str, run_dir: str | None, root: str | os.PathLike,
                  dist) -> Path:
    """The directory of a fresh run, created by this call: ``run_dir`` as given, else the
    first of ``runs/NAME``, ``runs/NAME-2``, ... that this call creates itself. The
    creation is the claim (``mkdir`` without ``exist_ok``), so two runs started at once
    never share a directory; under torchrun rank 0 claims it and the others are told
    its name."""
    if run_dir:
        refuse_taken(run_dir)
        path = Path(run_dir)
        if dist.is_main:
            _mkdir(path, exist_ok=True)
        return path
    claimed = _claim_next(Path(root) / _safe_name(spec_name)) if dist.is_main else None
    if dist.world > 1:
        import torch.distributed

        box = [str(claimed) if claimed else None]
        torch.distributed.broadcast_object_list(box, src=0)
        claimed = Path(box[0])
    return claimed


def _claim_next(default: Path) -> Path:
    path, n = default, 1
    while not _mkdir(path, exist_ok=False):
        n += 1
        path = default.with_name(f"{default.name}-{n}")
    return path


def _mkdir(path: Path, exist_ok: bool) -> bool:
    """Create ``path`` (and its parents); False if it existed and ``exist_ok`` is not."""
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except FileExistsError:
        if not exist_ok:
            return False
        raise ConfigError(f"cannot create the run directory '{path}': a file has that "
                          "name.") from None
    except OSError as exc:
        raise ConfigError(f"cannot create the run directory '{path}': {exc.strerror}.") \
            from None
    return True


def write_text(path: Path, text: str) -> None:
    """Write a small text file atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write '{path}' in the run directory: {exc.strerror}.") \
            from None


def open_run_dir(run_dir: Path, g, config: TrainConfig, sets, augment: bool,
                 resumed_step: int | None, is_main: bool) -> MetricsLog | None:
    """Write the run's spec, config and data description and open its metrics (the main
    process only). Called once a resume has been checked: a failed resume must not
    overwrite the run's files."""
    if not is_main:
        return None
    write_text(run_dir / "spec.yaml", g.source.text)
    write_text(run_dir / "config.yaml", config_yaml(config))
    write_text(run_dir / "data.json", json.dumps(
        {"data": config.data, "seed": config.seed, "classes": sets.class_names,
         "mean": sets.mean.tolist(), "std": sets.std.tolist(),
         "train_samples": len(sets.train), "test_samples": len(sets.test),
         "augment": augment}, indent=1))  # what a user of the trained model needs
    return MetricsLog(run_dir, config.tensorboard, resumed_step)


def step_row(pos, epoch: int, record, images_per_s: float) -> dict[str, Any]:
    """The steps.jsonl row of the step ``record`` that brought the run to ``pos``."""
    return {"step": pos.step, "epoch": epoch + 1, "loss": record.loss_sum / record.count,
            "acc": record.correct / record.count, "lr": record.lr,
            "images_per_s": images_per_s, "time_s": pos.time_s}


def check_artifacts(net, is_main: bool) -> None:
    """Refuse, before the first step, a network whose model.py write_artifacts could not
    write at the end: a plugin module model.py would not rebuild (its extra_repr leaves
    out a constructor argument) is the plugin's PluginError now, not after the run."""
    if is_main:
        from ..compiler.emit.codegen import check_plugin_modules

        check_plugin_modules(net)


def write_artifacts(run_dir: Path, g, net, config: TrainConfig, log: MetricsLog | None,
                    labels: tuple[str, str]) -> Path:
    """The trained model as `linkc compile` writes it (and the plot, its losses named by
    ``labels``), from the main process; returns the path of its weights."""
    weights = run_dir / "weights.safetensors"
    if log:
        import torch

        from ..compiler.emit.codegen import write_artifacts as write_model

        # the written weights are plain contiguous CPU tensors, whatever layout trained
        net.to("cpu", memory_format=torch.contiguous_format)
        write_model(net, g, run_dir, spec_name=f"{g.source.name}, trained by linkc train")
        if config.plot:
            write_plot(run_dir, labels)
    return weights


class MetricsLog:
    """Per-step and per-epoch metrics as JSONL and CSV (and TensorBoard when installed)."""

    def __init__(self, run_dir: Path, tensorboard: bool, keep_until_step: int | None = None):
        self.dir = run_dir
        self._files: dict[str, tuple[io.TextIOBase, io.TextIOBase, csv.DictWriter]] = {}
        self._tb = None
        for kind, columns in (("steps", STEP_COLUMNS), ("epochs", EPOCH_COLUMNS)):
            rows = self._kept_rows(kind, keep_until_step)
            jsonl = None
            try:
                jsonl = open(run_dir / f"{kind}.jsonl", "w")
                table = open(run_dir / f"{kind}.csv", "w", newline="")
            except OSError as exc:
                if jsonl is not None:
                    jsonl.close()
                self.close()
                raise ConfigError(f"cannot write the run directory's metrics: "
                                  f"{exc.filename}: {exc.strerror}.") from None
            writer = csv.DictWriter(table, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            self._files[kind] = (jsonl, table, writer)
            for row in rows:
                self._write(kind, row)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                SummaryWriter = None
            if SummaryWriter is not None:
                self._tb = SummaryWriter(str(run_dir / "tensorboard"),
                                         purge_step=keep_until_step)

    def _kept_rows(self, kind: str, keep_until_step: int | None) -> list[dict[str, Any]]:
        path = self.dir / f"{kind}.jsonl"
        if keep_until_step is None or not path.exists():
            return []
        return [row for row in _read_jsonl(path)
                if isinstance(row.get("step", 0), (int, float)) and
                row.get("step", 0) <= keep_until_step]

    def _write(self, kind: str, row: dict[str, Any]) -> None:
        jsonl, table, writer = self._files[kind]
        jsonl.write(json.dumps(row) + "\n")
        writer.writerow(row)
        jsonl.flush()
        table.flush()

    def step(self, row: dict[str, Any]) -> None:
        self._write("steps", row)
        if self._tb is not None:
            for key in ("loss", "acc", "lr"):
                self._tb.add_scalar(f"step/{key}", row[key], row["step"])

    def epoch(self, row: dict[str, Any]) -> None:
        self._write("epochs", row)
        if self._tb is not None:
            for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
                self._tb.add_scalar(f"epoch/{key}", row[key], row["step"])
            self._tb.flush()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for jsonl, table, _ in self._files.values():
            jsonl.close()
            table.close()
        if self._tb is not None:
            self._tb.close()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics file; a line that is not a JSON object (cut short by a
    kill, or edited by hand) is skipped, and a file that cannot be read has none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _numeric_rows(path: Path, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows that have a number under each of `keys` (others are not plotted)."""
    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return [r for r in _read_jsonl(path) if all(number(r.get(k)) for k in keys)]


def write_plot(run_dir: Path, labels: tuple[str, str]) -> Path | None:
    """plot.png: the losses per step and per epoch, train/test accuracy per epoch.
    ``labels`` say what the training and the test loss are (heads.loss_labels): the
    training loss may sum auxiliary heads and smooth labels, the test loss does neither."""
    fig = loss_figure(run_dir, labels)
    if fig is None:
        return None
    import matplotlib.pyplot as plt

    path = run_dir / "plot.png"
    tmp = run_dir / ".plot.tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def loss_figure(run_dir: Path, labels: tuple[str, str]):
    """The figure of write_plot, or None before the first logged step."""
    steps = _numeric_rows(run_dir / "steps.jsonl", ("step", "loss"))
    epochs = _numeric_rows(run_dir / "epochs.jsonl", ("epoch", "step", "train_loss", "test_loss",
                                                      "train_acc", "test_acc"))
    if not steps:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display needed, and no GUI toolkit
    import matplotlib.pyplot as plt

    train_loss, test_loss = labels
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot([r["step"] for r in steps], [r["loss"] for r in steps], lw=0.6, alpha=0.5,
                 label=f"training, per step: {train_loss}")
    if epochs:
        x = [r["step"] for r in epochs]
        ax_loss.plot(x, [r["train_loss"] for r in epochs], "o-", label="training, epoch mean")
        ax_loss.plot(x, [r["test_loss"] for r in epochs], "o-", label=f"test: {test_loss}")
        ax_acc.plot([r["epoch"] for r in epochs], [100 * r["train_acc"] for r in epochs], "o-",
                    label="train")
        ax_acc.plot([r["epoch"] for r in epochs], [100 * r["test_acc"] for r in epochs], "o-",
                    label="test")
    ax_loss.set(xlabel="step", ylabel="loss per sample", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy (main output)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
