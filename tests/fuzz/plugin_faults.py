"""The `plugin` target: installed plugins with random faults, loaded into this process.

Each example writes a small plugin (a package and its dist-info, as pip would install
it): a per-channel scale op lowering to a module with parameters and a merge, learnable
or a plain function, then injects up to two faults from FAULTS into its code: a missing
module or class, a class where a function belongs, shape rules returning what is not a
shape or raising, parameter rules counting wrong, a kwargs rule the constructor refuses,
a module without `extra_repr`, a forward that is random. The plugin is loaded as linkc
loads an installed one (`plugins.load_one` on its entry point), then `linkc check` and
`linkc compile -o` run on a spec that uses both entries.

The oracle: a plugin with a fault is refused with a PluginError (exit 2) that names its
distribution and entry point and suggests `--no-plugins`, at registration or at the
first command, never an internal error; a plugin without one passes both commands and
`check` prints the parameter count `compile` builds. `loaded()` is also what
tests/plugins uses to load a plugin without a new interpreter.
"""

from __future__ import annotations

import importlib
import itertools
import shutil
import sys
import textwrap
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Iterator

from hypothesis import strategies as st

from linkc.compiler.lower import _RESOLVED as RESOLVED_TARGETS
from linkc.ops import MERGES, OPS, plugins
from linkc.ops.plugins import PluginError

from .oracles import Case, run_cli


# ------------------------------------------------------------------ loading in process
def write_dist(site: Path, dist: str, package: str, files: dict[str, str]) -> None:
    """`package` (files by name) and the dist-info of `dist`, whose entry point is
    `package.register`, as pip installs them into `site`."""
    pkg = site / package
    pkg.mkdir(parents=True, exist_ok=True)
    for name, text in {"__init__.py": "", **files}.items():
        (pkg / name).write_text(textwrap.dedent(text))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{plugins.GROUP}]\nfaulty = {package}.register\n")
    (info / "top_level.txt").write_text(f"{package}\n")


@contextmanager
def loaded(site: Path, dist: str) -> Iterator[None]:
    """The plugin `dist` installed in `site`, loaded into this process as linkc loads an
    installed plugin (a PluginError from loading propagates), and unloaded after: its
    entries, its modules and its place on sys.path."""
    plugins.load()  # the installed plugins, once: a command's load() will not rescan
    (found,) = [d for d in metadata.distributions(path=[str(site)]) if d.name == dist]
    (ep,) = [ep for ep in found.entry_points if ep.group == plugins.GROUP]
    packages = {ep.module.split(".")[0], *(found.read_text("top_level.txt") or "").split()}
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        plugins.load_one(ep)
        yield
    finally:
        for registry in (OPS, MERGES):
            for name, origin in list(registry.origins.items()):
                if origin.name == dist:
                    registry.remove(name)
        plugins.PLUGINS[:] = [o for o in plugins.PLUGINS if o.name != dist]
        for name in [m for m in sys.modules if m.split(".")[0] in packages]:
            del sys.modules[name]
        for target in [t for t in RESOLVED_TARGETS if t.split(".")[0] in packages]:
            del RESOLVED_TARGETS[target]
        sys.path.remove(str(site))


def names_the_plugin(message: str, dist: str) -> bool:
    """A plugin error as promised: the distribution, the entry point, the way out."""
    return (f"plugin '{dist}' (entry point faulty = " in message and "--no-plugins" in message
            and "bug in linkc" not in message)


# ------------------------------------------------------------------ the generated plugin
MODULES = '''
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self, channels, bias=False):
        super().__init__()
        self.channels, self.bias = channels, bias
        self.weight = nn.Parameter(torch.rand(channels, 1, 1) + 0.5)
        self.shift = nn.Parameter(torch.zeros(channels, 1, 1)) if bias else None

    def forward(self, x):
        out = x * self.weight#NOISE
        return out + self.shift if self.shift is not None else out

    def extra_repr(self):
        return f"channels={self.channels}, bias={self.bias}"


class Mix(nn.Module):
    def __init__(self, inputs):
        super().__init__()
        self.inputs = inputs
        self.weight = nn.Parameter(torch.ones(inputs))

    def forward(self, *xs):
        return sum(w * x for w, x in zip(self.weight, xs))

    def extra_repr(self):
        return f"inputs={self.inputs}"


def maxi(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = torch.maximum(out, x)
    return out
'''

REGISTER = '''
from linkc.extend import (Args, Lowering, MergeDef, NoArgs, OpDef, ShapeError, register_merge,
                          register_op)


class ScaleArgs(Args):
    bias: bool = False


def scale_shape(s, a):
    if len(s) != 3:
        raise ShapeError("fzscale needs a (C, H, W) map")
    return SHAPE_RESULT


register_op(OpDef("OP", ScaleArgs, scale_shape,
                  Lowering("PKG.MODULE:OP_CLASS", lambda s, a: KWARGS),
                  "per-channel scale", TRAITS, params=PARAMS_RULE))


def merge_shape(inputs, options):
    if len({x.shape for x in inputs}) > 1:
        raise ShapeError("MERGE needs equal shapes")
    return MERGE_RESULT


register_merge(MergeDef("MERGE", merge_shape, Lowering("PKG.MODULE:MERGE_TARGET"MERGE_KWARGS),
                        "m", "a merge", MERGE_PARAMS))
'''

GOOD = {
    "MODULE": "modules", "OP_CLASS": "Scale", "SHAPE_RESULT": "s",
    "KWARGS": "dict(channels=s[0], bias=a.bias)", "TRAITS": 'frozenset({"params"})',
    "PARAMS_RULE": "lambda s, a: s[0] * (2 if a.bias else 1)", "MERGE_RESULT": "inputs[0].shape",
}
LEARNABLE = {"MERGE_TARGET": "Mix",
             "MERGE_KWARGS": ", lambda shapes, options: dict(inputs=len(shapes))",
             "MERGE_PARAMS": "params=True, count_params=lambda shapes: len(shapes)"}
PLAIN = {"MERGE_TARGET": "maxi", "MERGE_KWARGS": "", "MERGE_PARAMS": "associative=True"}

# Each fault: the replacements it makes (in the register module, or `modules.py` text
# under the key "modules.py"). Every one must be refused as the plugin's.
FAULTS: dict[str, dict[str, str]] = {
    "missing module": {"MODULE": "modulez"},
    "missing class": {"OP_CLASS": "Scael"},
    "op target a function": {"OP_CLASS": "maxi"},
    "shape a list": {"SHAPE_RESULT": "list(s)"},
    "shape negative": {"SHAPE_RESULT": "(s[0], -s[1], s[2])"},
    "shape zero": {"SHAPE_RESULT": "(0, *s[1:])"},
    "shape float": {"SHAPE_RESULT": "(float(s[0]), *s[1:])"},
    "shape empty": {"SHAPE_RESULT": "()"},
    "shape None": {"SHAPE_RESULT": "None"},
    "shape rule raises": {"SHAPE_RESULT": "s[7]"},
    "shape rule raises on use": {"SHAPE_RESULT": "s if s[1] == 8 else {}[s]"},
    "shape a list on use": {"SHAPE_RESULT": "s if s[1] == 8 else list(s)"},
    "params off by one": {"PARAMS_RULE": "lambda s, a: s[0] + 1"},
    "params ignore bias": {"PARAMS_RULE": "lambda s, a: s[0]", "KWARGS":
                           "dict(channels=s[0], bias=True)"},
    "params zero": {"PARAMS_RULE": "lambda s, a: 0"},
    "params float": {"PARAMS_RULE": "lambda s, a: s[0] * 1.0"},
    "params raises": {"PARAMS_RULE": "lambda s, a: s[9]"},
    "kwargs misspelt": {"KWARGS": "dict(chanels=s[0])"},
    "kwargs not a dict": {"KWARGS": "[s[0]]"},
    "kwargs raise on use": {"KWARGS": "dict(channels=s[0]) if s[1] == 8 else {}[s]"},
    "constructor refuses": {"KWARGS": "dict(channels=-s[0])"},
    "no extra_repr": {"modules.py": ("    def extra_repr(self):\n        return f\"channels="
                                     "{self.channels}, bias={self.bias}\"\n", "")},
    "random forward": {"modules.py": ("#NOISE", " * (1 + torch.rand(()))")},
    "modules syntax error": {"modules.py": ("class Mix(nn.Module):", "class Mix(nn.Module)")},
    "merge shape a list": {"MERGE_RESULT": "list(inputs[0].shape)"},
    "merge count wrong": {"MERGE_PARAMS": "params=True, count_params=lambda shapes: 2",
                          "MERGE_TARGET": "Mix", "MERGE_KWARGS":
                          ", lambda shapes, options: dict(inputs=len(shapes) + 1)"},
    "merge target a class": {"MERGE_TARGET": "Mix", "MERGE_KWARGS": "",
                             "MERGE_PARAMS": "associative=True"},
    "merge target missing": {"MERGE_TARGET": "maxx"},
}

SPEC = """linkc: 1
name: fz
input: [{c}, {h}, {w}]
nodes:
  a: {{from: input, ops: [{{conv: [{k}, 3]}}, {{OP: {{bias: {bias}}}}}]}}
  b: {{from: input, ops: [{{conv: [{k}, 1]}}]}}
  m: {{from: [a, b], merge: MERGE}}
  head: {{from: m, ops: [gap, {{linear: 3}}]}}
output: head
"""

_COUNTER = itertools.count()


def plugin_source(names: dict[str, str], learnable: bool, faults: list[str]) -> dict[str, str]:
    """The plugin's files, with `faults` injected."""
    values = {**GOOD, **(LEARNABLE if learnable else PLAIN), **names}
    modules = MODULES
    for fault in faults:
        for key, value in FAULTS[fault].items():
            if key == "modules.py":
                modules = modules.replace(*value)
            else:
                values[key] = value
    register = REGISTER
    for key in sorted(values, key=len, reverse=True):  # OP_CLASS before OP
        register = register.replace(key, values[key])
    return {"modules.py": modules, "register.py": register}


def plugin(data, workdir: Path) -> Case:
    n = next(_COUNTER)
    package, dist = f"fzplug{n}", f"fz-plugin-{n}"
    faults = data.draw(st.lists(st.sampled_from(sorted(FAULTS)), min_size=1, max_size=2,
                                unique=True)
                       if data.draw(st.integers(0, 3)) else st.just([]))
    learnable = data.draw(st.booleans())
    names = {"PKG": package, "OP": f"fzscale{n}", "MERGE": f"fzmerge{n}"}
    if data.draw(st.booleans()):  # no parameter rule: the count comes from the module
        names.update(TRAITS="frozenset()", PARAMS_RULE="None")
    files = plugin_source(names, learnable, faults)
    site = workdir / f"site{n}"
    write_dist(site, dist, package, files)
    spec = workdir / f"plugin{n}.yaml"
    spec.write_text(SPEC.format(c=data.draw(st.integers(1, 4)), h=data.draw(st.integers(1, 6)),
                                w=data.draw(st.integers(1, 6)), k=data.draw(st.sampled_from([8, 5])),
                                bias=str(data.draw(st.booleans())).lower())
                    .replace("OP", names["OP"]).replace("MERGE", names["MERGE"]))
    payload = f"# faults: {', '.join(faults) or 'none'}\n" + "\n".join(
        f"# ---- {name}\n{text}" for name, text in files.items()) + spec.read_text()
    return Case(payload, lambda: plugin_outcome(site, dist, spec, faults, workdir / f"out{n}"),
                 ", ".join(faults) or "no fault", suffix=".plugin")


def plugin_outcome(site: Path, dist: str, spec: Path, faults: list[str], out: Path) -> str:
    """'refused_at_registration', 'refused_by_check', 'refused_by_compile' or 'compiled'."""
    try:
        return _outcome(site, dist, spec, faults, out)
    finally:
        shutil.rmtree(site, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)


def _outcome(site: Path, dist: str, spec: Path, faults: list[str], out: Path) -> str:
    try:
        with loaded(site, dist):
            code, stdout, err = run_cli(["check", str(spec), "--json"])
            if code == 0:
                counted = int(stdout.split('"parameters": ')[1].split(",")[0])
                code, stdout, err = run_cli(["compile", str(spec), "-o", str(out)])
                stage = "compile"
            else:
                stage = "check"
    except PluginError as exc:
        assert faults, f"a plugin without a fault was refused: {exc}"
        assert names_the_plugin(str(exc), dist), str(exc)
        return "refused_at_registration"
    assert code in (0, 2), f"exit {code} from {stage}: {err.strip()[-2000:]}"
    if code == 2:
        assert faults, f"a plugin without a fault was refused by {stage}: {err}"
        assert names_the_plugin(err, dist), err
        return f"refused_by_{stage}"
    assert not faults, f"{', '.join(faults)}: not reported by check or compile"
    built = int(stdout.split(": ")[1].split(" parameters")[0].replace(",", ""))
    assert counted == built, f"check counts {counted:,} parameters, compile builds {built:,}"
    return "compiled"
