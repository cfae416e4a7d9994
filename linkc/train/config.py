"""The training configuration: one typed object, from three sources.

``TrainConfig`` is the single pydantic model that ``train()`` reads. Its values
come from, in increasing precedence:

1. the spec's ``train:`` section,
2. a YAML file given with ``--config``,
3. command-line flags (one ``--kebab-case`` flag per field).

Every source is checked for unknown keys on its own, so a typo is reported
with the place it came from and the nearest known key. Defaults follow the
seed papers: SGD with Nesterov momentum 0.9, weight decay 1e-4 (not on
BatchNorm parameters or biases), a linear warmup then cosine decay, and
crop-and-flip augmentation where it suits the data set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..compiler.passes import default_passes
from ..errors import did_you_mean, UserError
from .data.spec import DataError, parse_data_arg

__all__ = ["ConfigError", "TrainConfig", "load_config_file", "resolve_config"]


class ConfigError(UserError):
    """A bad training configuration (unknown key, bad value, unreadable file): exit 2."""


def device_name(text: str) -> str:
    """A device name as written (auto, cpu, cuda, cuda:N, mps), lower-cased; ValueError
    for anything else. Whether this machine has that device is decided where a run
    starts (distributed.resolve_device)."""
    value = text.strip().lower()
    kind, colon, index = value.partition(":")
    indexed = kind == "cuda" and index.isdigit()  # only a GPU is chosen by number
    if kind not in ("auto", "cpu", "cuda", "mps") or (colon and not indexed):
        raise ValueError(f"unknown device '{text.strip()}': use auto, cpu, cuda, cuda:N or mps")
    return value


class TrainConfig(BaseModel):
    """Everything one training run depends on. ``linkc train --help`` lists the flags."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # what to train on
    data: str = Field("digits", description="digits, synthetic, cifar10:DIR, cifar100:DIR, "
                                            "imagefolder:DIR")
    synthetic_size: int = Field(512, ge=1, description="training samples of --data synthetic")
    augment: Optional[bool] = Field(None, description="random crop (pad 4) and flip; "
                                                      "default: on for natural images")
    # schedule
    epochs: int = Field(10, ge=1, description="passes over the training set")
    batch_size: int = Field(128, ge=1, description="global batch size (all processes together)")
    eval_batch_size: int = Field(512, ge=1, description="batch size for evaluation")
    # optimizer
    lr: float = Field(0.1, gt=0, description="peak learning rate (after warmup)")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    nesterov: bool = Field(True, description="Nesterov momentum")
    weight_decay: float = Field(1e-4, ge=0, description="L2 weight decay, not on BN or biases")
    warmup_epochs: float = Field(1.0, ge=0, description="linear warmup from 0 to lr")
    min_lr: float = Field(0.0, ge=0, description="learning rate at the end of the cosine decay")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="cross-entropy label smoothing")
    loss_weights: dict[str, float] = Field(
        {}, description="loss weights of auxiliary outputs, NAME=W[,NAME=W] (spec: {aux1: "
                        "0.3}); loss = main + sum of weight * aux")
    seed: int = Field(0, description="seeds weights, data order, augmentation and dropout")
    # hardware
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N, mps")
    amp: Optional[bool] = Field(None, description="mixed precision; default: on for CUDA (bf16, "
                                "else fp16 + scaler), off on the CPU; --amp on a CPU: bf16 "
                                "autocast if it has avx512_bf16/amx_bf16, else fp32 (it says so)")
    channels_last: bool = Field(True, description="channels-last memory format (the "
                                "channels_last pass)")
    compile: bool = Field(False, description="torch.compile the training module")
    passes: list[str] = Field([], description="training-mode compiler passes to apply besides "
                              f"the defaults ({', '.join(default_passes('train'))}), e.g. "
                              "merge_nary,checkpoint_dense, run in the compiler's order "
                              "(weights stay the spec's); none: no passes at all")
    memory_efficient: bool = Field(False, description="recompute dense layers' concat+BN+ReLU+"
                                   "1x1 conv in backward (the checkpoint_dense pass): less "
                                   "memory, slower steps")
    threads: Optional[int] = Field(None, ge=1, description="CPU threads for torch (default: "
                                                           "torch's choice)")
    max_memory: Optional[str] = Field(None, description="refuse a run estimated to need more "
                                      "memory: bytes or 16G, 512M, off (default: "
                                      "$LINKC_MAX_MEMORY, else the memory available)")
    # run directory and logging
    run_dir: Optional[str] = Field(None, description="default: runs/NAME (NAME-2, ... if taken)")
    log_every: int = Field(10, ge=1, description="read the step losses (and check them for "
                           "NaN) every N steps: one device sync per N steps; every step is "
                           "still logged and a NaN is reported at the step it appeared")
    checkpoint_every: int = Field(0, ge=0, description="also checkpoint every N steps (0: per "
                                                       "epoch only)")
    progress: Optional[bool] = Field(None, description="progress bars (default: when stdout "
                                                       "is a terminal)")
    tensorboard: bool = Field(True, description="TensorBoard logs when tensorboard is installed")
    plot: bool = Field(True, description="write a loss/accuracy plot (plot.png)")

    @field_validator("data")
    @classmethod
    def _check_data(cls, value: str) -> str:
        try:
            parse_data_arg(value)
        except DataError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("passes", mode="before")
    @classmethod
    def _split_passes(cls, value):
        if isinstance(value, str):  # --passes a,b
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("max_memory", mode="before")
    @classmethod
    def _check_max_memory(cls, value):
        if value is None:
            return None
        from ..analyze.budget import MemoryLimitError, parse_size

        try:
            parse_size(value)
        except MemoryLimitError as exc:
            raise ValueError(str(exc)) from None
        return str(value)

    @field_validator("loss_weights", mode="before")
    @classmethod
    def _parse_loss_weights(cls, value):
        """`aux1=0.3,aux2=0.1` from the command line; a mapping from YAML."""
        if not isinstance(value, str):
            return value
        out = {}
        for item in filter(None, (p.strip() for p in value.split(","))):
            name, sep, weight = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"write NAME=WEIGHT[,NAME=WEIGHT], got '{value}'")
            out[name.strip()] = weight.strip()
        return out

    @field_validator("loss_weights")
    @classmethod
    def _check_loss_weights(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if not weight >= 0 or weight == float("inf"):
                raise ValueError(f"the weight of '{name}' must be a finite number >= 0, "
                                 f"got {weight}")
        return value

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        return device_name(value)


    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> "TrainConfig":
        # torch's SGD refuses it at the first step; say so before anything is built
        if self.nesterov and self.momentum == 0:
            raise ValueError("Nesterov momentum needs a momentum above 0: set a momentum "
                             "(e.g. 0.9) or nesterov: false (--no-nesterov)")
        return self


#: One source of settings: a label for messages and its mapping.
Source = tuple[str, dict[str, Any]]


def field_names() -> list[str]:
    return list(TrainConfig.model_fields)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A ``--config`` YAML file: a mapping of TrainConfig keys (safe loader only)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read the file ({exc.strerror}).") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--config {path}: not UTF-8 text (byte {exc.start}); a config is a "
                          "YAML file of training settings.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config {path}: not valid YAML ({exc}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of training settings such as "
                          f"'epochs: 10', got a {type(data).__name__}.")
    return data


def resolve_config(sources: list[Source]) -> TrainConfig:
    """Merge ``(label, mapping)`` sources, later ones winning, into a checked TrainConfig.

    ``label`` names the source in messages ("spec.yaml train:", "--config x.yaml",
    "the command line").
    """
    known = field_names()
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for label, values in sources:
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{label}: expected a mapping of training settings, "
                              f"got a {type(values).__name__}.")
        for key, value in values.items():
            key = str(key)
            if key not in known:
                hint = did_you_mean(key, known) or f"known keys: {', '.join(known)}"
                raise ConfigError(f"{label}: unknown training setting '{key}' ({hint}).")
            merged[key] = value
            origin[key] = label
    try:
        return TrainConfig.model_validate(merged)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            if not err["loc"]:  # a rule over several settings
                lines.append(f"  {err['msg']}")
                continue
            key = str(err["loc"][0])
            where = origin.get(key, "defaults")
            lines.append(f"  {key} = {merged.get(key)!r} (from {where}): {err['msg']}")
        raise ConfigError("bad training settings:\n" + "\n".join(lines)) from None


def config_yaml(config: TrainConfig) -> str:
    """The resolved config as YAML, as written to the run directory."""
    return yaml.safe_dump(config.model_dump(), sort_keys=False)

