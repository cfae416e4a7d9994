"""Which variants a sweep trains: a grid or a random sample over params and settings.

A variant is one spec with some of its top-level params set, some training settings
set, and one seed. Params are the spec's own (`L`, `k`, and through string params
a merge kind or a connect pattern); settings are `linkc train`'s (`epochs`, `lr`).
A name that is both is a param. Every variant gets a short stable id made from its
settings, so a re-run of the same sweep finds the run directories it made before.

The sweep file (`linkc sweep --file sweep.yaml`):

    sweep:
      specs: [specs/resnet_mr_cifar.yaml, specs/dmrnet_cifar.yaml]
      grid: {L: [12, 24]}                  # every combination
      random:                              # a random sample (crossed with the grid)
        budget: 8                          # number of points drawn
        seed: 0
        space: {k: [12, 24, 32], lr: {low: 0.01, high: 0.3, log: true}}
      seeds: 3                             # training seeds per point
      train: {epochs: 5, data: digits}     # settings shared by every variant
"""

from __future__ import annotations

from ..errors import UserError

import hashlib
import itertools
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["SweepError", "SweepPlan", "Variant", "load_sweep_file", "parse_set", "plan_variants"]


class SweepError(UserError):
    """A bad sweep definition (usage, values, file): exit 2."""


@dataclass(frozen=True)
class Variant:
    """One training run of a sweep."""

    spec: str                       # path or zoo name, as given
    params: dict[str, Any]          # overrides of the spec's top-level params
    settings: dict[str, Any]        # training settings of this variant (beyond the shared)
    seed: int
    point: str = ""                 # id of the (spec, params, settings) point, seeds aside
    id: str = ""                    # id of this run: the point plus the seed

    def label(self) -> str:
        values = {**self.params, **self.settings}
        inner = ", ".join(f"{k}={v}" for k, v in values.items())
        return f"{Path(self.spec).stem}({inner}) seed {self.seed}"

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "params": self.params, "settings": self.settings,
                "seed": self.seed, "point": self.point, "id": self.id}


class RangeSpec(BaseModel):
    """A continuous or integer range for random sampling."""

    model_config = ConfigDict(extra="forbid")
    low: float
    high: float
    log: bool = False
    int: bool = False

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


class RandomSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    budget: int = Field(ge=1, le=100_000, description="number of points drawn")
    seed: int = 0
    space: dict[str, Union[list[Any], RangeSpec]]


class SweepPlan(BaseModel):
    """The `sweep:` section of a sweep file (and what the command-line flags build)."""

    model_config = ConfigDict(extra="forbid")
    specs: list[str] = Field(default_factory=list)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    random: Optional[RandomSpec] = None
    seeds: int = Field(1, ge=1, le=100)
    train: dict[str, Any] = Field(default_factory=dict)


def load_sweep_file(path: str | Path) -> SweepPlan:
    """Read a sweep file's `sweep:` section (safe YAML, unknown keys rejected)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise SweepError(f"sweep file {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise SweepError(f"sweep file {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("sweep"), dict):
        raise SweepError(f"sweep file {path}: expected a mapping with a 'sweep:' section")
    try:
        plan = SweepPlan.model_validate(data["sweep"])
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise SweepError(f"sweep file {path}: sweep.{where}: {err['msg']}") from None
    # Relative spec paths in the file are relative to the file, like include: in specs.
    plan.specs = [s if Path(s).is_absolute() or not (p.parent / s).exists() else str(p.parent / s)
                  for s in plan.specs]
    return plan


def _split_top_level(text: str) -> list[str]:
    """'12,24,[1, 2]' -> ['12', '24', '[1, 2]']: commas inside brackets do not split."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_set(items: list[str]) -> dict[str, list[Any]]:
    """['L=12,24', 'merge=add,mean'] -> {'L': [12, 24], 'merge': ['add', 'mean']}.

    Each value is read as a YAML scalar or list, so numbers stay numbers and
    `stages=[[1,2],[3,4]]` is one list value."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise SweepError(f"--set expects NAME=V1,V2,..., got '{item}'")
        if name in grid:
            raise SweepError(f"--set {name} given twice; list all its values in one --set")
        parsed = []
        for text in _split_top_level(values):
            if not text:
                raise SweepError(f"--set {name}: empty value in '{values}'")
            try:
                parsed.append(yaml.safe_load(text))
            except yaml.YAMLError:
                raise SweepError(f"--set {name}: cannot read value '{text}'") from None
        grid[name] = parsed
    return grid


def _sample(space: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    point = {}
    for name, choice in space.items():
        if isinstance(choice, list):
            point[name] = rng.choice(choice)
        elif choice.log:
            point[name] = math.exp(rng.uniform(math.log(choice.low), math.log(choice.high)))
        else:
            point[name] = rng.uniform(choice.low, choice.high)
        if isinstance(choice, RangeSpec):
            point[name] = int(round(point[name])) if choice.int else round(point[name], 6)
    return point


def _points(plan: SweepPlan) -> list[dict[str, Any]]:
    """The grid's product; with `random`, each grid point crossed with every draw."""
    names = list(plan.grid)
    grid = [dict(zip(names, values))
            for values in itertools.product(*(plan.grid[n] for n in names))]
    if not plan.random:
        return grid
    overlap = set(plan.grid) & set(plan.random.space)
    if overlap:
        raise SweepError(f"{', '.join(sorted(overlap))} is both in the grid and in the random "
                         "space; keep each name in one of them")
    rng = random.Random(plan.random.seed)
    draws = [_sample(plan.random.space, rng) for _ in range(plan.random.budget)]
    return [{**g, **d} for g in grid for d in draws]


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def _slug(spec: str, values: dict[str, Any]) -> str:
    words = [Path(spec).stem] + [f"{k}{v}" for k, v in values.items()]
    text = "-".join(str(w) for w in words)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in text)
    return safe[:60]


def plan_variants(plan: SweepPlan, spec_params: dict[str, set[str]],
                  setting_names: set[str]) -> list[Variant]:
    """Every variant of the plan, seeds innermost.

    `spec_params[spec]` is the set of top-level param names of each spec; a swept name
    must be a param of every spec or a training setting, else it is an error (a typo
    would otherwise train the same network many times)."""
    if not plan.specs:
        raise SweepError("a sweep needs at least one spec")
    variants: list[Variant] = []
    seen: set[str] = set()
    for point in _points(plan):
        for spec in plan.specs:
            params, settings = {}, {}
            for name, value in point.items():
                if name in spec_params[spec]:
                    params[name] = value
                elif name in setting_names:
                    settings[name] = value
                else:
                    declared = ", ".join(sorted(spec_params[spec])) or "none"
                    raise SweepError(f"'{name}' is neither a param of {spec} nor a training "
                                     f"setting (its params: {declared})")
            if "seed" in settings:
                raise SweepError("sweep seeds with --seeds N, not as a setting")
            point_id = f"{_slug(spec, {**params, **settings})}-{_digest([spec, params, settings])}"
            if point_id in seen:
                continue
            seen.add(point_id)
            base_seed = int(plan.train.get("seed", 0))
            for s in range(plan.seeds):
                variants.append(Variant(spec, params, settings, base_seed + s, point_id,
                                        f"{point_id}-s{base_seed + s}"))
    return variants


def shared_settings(plan: SweepPlan) -> dict[str, Any]:
    """Settings every variant trains with (seed excluded: each variant has its own)."""
    return {k: v for k, v in plan.train.items() if k != "seed"}

