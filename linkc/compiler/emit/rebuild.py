"""Does model.py rebuild the compiled module? Checked before writing it, and after.

model.py writes each plugin module as `package.module.Class(<its extra_repr()>)`. A
module whose `extra_repr` leaves out a constructor argument, or returns nothing (nn.Module's
default), would be built there with a default in its place: a different network, or one
that fails on `Model()`. So before anything is written each plugin module is rebuilt from
that text, as model.py will evaluate it, and compared with the original (class, plain
attributes, parameter and buffer shapes, children), then given its weights and run beside
it on a random input; a difference is the plugin's error.

After writing, `linkc compile -o` imports the file, builds `Model()`, loads the compiled
module's weights into it and runs both on one random input: every output must be
`torch.equal`. A difference, or a failure, inside a plugin's code is the plugin's error,
naming the module; anywhere else it is linkc's.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn

from ...ops import plugins
from ...ops.plugins import PluginError

_PLAIN = (bool, int, float, str, tuple, type(None))
_ADVICE = ("its extra_repr() must return the constructor's keyword arguments as "
           "`name=value, ...` (as torch.nn's modules do), so model.py can rebuild it")


def check_plugin_module(gm: fx.GraphModule, path: str, text: str,
                        channels_last: bool = False) -> None:
    """`text` (model.py's constructor call for the plugin module at `path` of `gm`) builds
    a module like it, which computes what it computes (`channels_last`: model.py lays the
    weights out so); else a PluginError saying what differs."""
    module = gm.get_submodule(path)
    cls = type(module)
    try:
        call = _constructor_call(text, _namespace(module))
    except (ValueError, SyntaxError, KeyError, AttributeError) as exc:
        call, problem = None, f"which cannot be read back: {exc}"
    else:
        problem = _rebuild_problem(module, call)
    advice = f"; {_ADVICE} (it returns {module.extra_repr()!r})" if problem else ""
    problem = problem or _computes_otherwise(module, call, _input_shapes(gm, path),
                                             channels_last)
    if problem is None:
        return
    origin = plugins.origin_of_module(cls.__module__)
    entry = f"module {cls.__module__}.{cls.__qualname__} at '{path}'"
    if origin is None:  # not a registered plugin's class: linkc wrote it wrong
        raise RuntimeError(f"{entry}: model.py would build it as {text}, {problem}")
    raise plugins.blame(origin, entry, f"model.py would build it as {text}, {problem}{advice}")


def _namespace(module: nn.Module) -> dict[str, Any]:
    """What model.py's text sees: its imports."""
    importlib.import_module(type(module).__module__)
    top = type(module).__module__.split(".")[0]
    return {"torch": torch, "nn": nn, top: sys.modules[top]}


def _constructor_call(text: str, namespace: dict[str, Any]):
    """`package.module.Class(k=v, ...)` as model.py writes it -> (the class, args, kwargs),
    read without running the text: the callee is looked up by its dotted name and every
    argument must be a literal."""
    call = ast.parse(text, mode="eval").body
    if not isinstance(call, ast.Call):
        raise ValueError("it is not a constructor call")
    parts = ast.unparse(call.func).split(".")
    target = namespace[parts[0]]
    for part in parts[1:]:
        target = getattr(target, part)
    args = [ast.literal_eval(a) for a in call.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return target, args, kwargs


def _rebuild_problem(module: nn.Module, call) -> str | None:
    """How the module `call` (class, args, kwargs) builds differs from `module`, or None."""
    target, args, kwargs = call
    try:
        with torch.device("meta"):
            rebuilt = target(*args, **kwargs)
    except Exception:  # noqa: BLE001 - a constructor may read its tensors: try with storage
        try:
            rebuilt = target(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the plugin's constructor
            return f"which fails: {type(exc).__name__}: {exc}"
    return _difference(module, rebuilt)


def _input_shapes(gm: fx.GraphModule, path: str) -> list[tuple[int, ...]] | None:
    """The per-sample shapes of what the graph passes to the module at `path`."""
    for node in gm.graph.nodes:
        if node.op == "call_module" and node.target == path:
            shapes = [a.meta.get("linkc", {}).get("shape") if isinstance(a, fx.Node) else None
                      for a in node.args]
            return shapes if shapes and all(shapes) and not node.kwargs else None
    return None


def _computes_otherwise(module: nn.Module, call, shapes, channels_last: bool) -> str | None:
    """Whether the rebuilt module, holding the same weights, computes other values from one
    random input (seen here, not only at the model's output, which may hide it: a max
    merge that takes the other input)."""
    if shapes is None:
        return None
    device = next((t.device for t in [*module.parameters(), *module.buffers()]),
                  torch.device("cpu"))
    target, args, kwargs = call
    rebuilt = target(*args, **kwargs).to(device)  # as model.py builds it
    if channels_last:
        rebuilt.to(memory_format=torch.channels_last)
    rebuilt.load_state_dict(module.state_dict())
    generator = torch.Generator().manual_seed(0)
    xs = [torch.randn(1, *shape, generator=generator).to(device) for shape in shapes]
    was_training = module.training
    module.eval()
    rebuilt.eval()
    try:
        with torch.no_grad():
            same = _same(module(*xs), rebuilt(*xs))
    except Exception:  # noqa: BLE001 - a random input may not suit it: the model run tells
        return None
    finally:
        module.train(was_training)
    return None if same else (
        "which computes other values from the same input and weights (is its forward "
        "random in eval mode, or does it keep state outside its constructor's arguments, "
        "parameters and buffers?)")


def _difference(original: nn.Module, rebuilt: nn.Module) -> str | None:
    """The first way `rebuilt` differs from `original`, in words, or None."""
    ours, theirs = dict(original.named_modules()), dict(rebuilt.named_modules())
    if list(ours) != list(theirs):
        return f"which has submodules {list(theirs)[1:]} instead of {list(ours)[1:]}"
    for name, m in ours.items():
        r = theirs[name]
        where = f" of its submodule '{name}'" if name else ""
        if type(m) is not type(r):
            return f"whose submodule '{name}' is a {type(r).__name__}, not a {type(m).__name__}"
        for key, value in vars(m).items():
            if key.startswith("_") or key == "training" or not isinstance(value, _PLAIN):
                continue
            other = vars(r).get(key, "(missing)")
            if other != value or type(other) is not type(value):
                return f"whose attribute {key}{where} is {other!r}, not {value!r}"
        for kind, mine, built in (("parameter", m._parameters, r._parameters),
                                  ("buffer", m._buffers, r._buffers)):
            for key in sorted(set(mine) | set(built)):
                a, b = mine.get(key), built.get(key)
                if (a is None) != (b is None) or a is not None and (
                        a.shape != b.shape or a.dtype != b.dtype):
                    return (f"whose {kind} {key}{where} is {_tensor(b)}, not {_tensor(a)}")
    return None


def _tensor(t: torch.Tensor | None) -> str:
    return "absent" if t is None else f"{t.dtype} {list(t.shape)}"


# ------------------------------------------------------------------ after writing
def check_written_model(gm: fx.GraphModule, model_py: Path) -> None:
    """model.py at `model_py`, given `gm`'s weights, computes exactly what `gm` computes."""
    inputs = gm.meta["linkc"]["inputs"]
    generator = torch.Generator().manual_seed(0)
    xs = [torch.randn(1, *shape, generator=generator) for shape in inputs.values()]
    was_training = gm.training
    try:
        model = _built(model_py, gm)
        model.eval()
        gm.eval()
        with torch.no_grad():
            if _same(_run(gm, xs, "the compiled module"),
                     _run(model, xs, f"Model() of {model_py}")):
                return
            # again, keeping every module's output (only now: they can be large), to say where
            ours, theirs = _Recorder(gm), _Recorder(model)
            with ours, theirs:
                _run(gm, xs, "the compiled module")
                _run(model, xs, f"Model() of {model_py}")
    finally:
        gm.train(was_training)
    path = ours.first_difference(theirs)
    module = gm.get_submodule(path) if path is not None else None
    origin = plugins.origin_of_module(type(module).__module__) if module is not None else None
    if origin is not None:
        raise plugins.blame(origin, f"module {type(module).__qualname__} at '{path}'",
                            f"model.py ({model_py}) rebuilds it, but it computes other values "
                            "there from the same input and weights (is its forward random in "
                            "eval mode, or does it keep state outside its constructor's "
                            "arguments and its parameters and buffers?)")
    where = f" first at module '{path}'" if path else ""
    raise RuntimeError(f"{model_py} computes other values than the compiled module{where}")


def _run(model: nn.Module, xs: list[torch.Tensor], what: str):
    try:
        return model(*xs)
    except Exception as exc:  # noqa: BLE001 - sorted: the plugin's, or linkc's
        raise _blamed(exc, f"{what} fails on a random input") from exc


def _same(want, got) -> bool:
    a, b = _flat(want), _flat(got)
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def _built(model_py: Path, gm: fx.GraphModule) -> nn.Module:
    """`Model()` of the written file, holding `gm`'s weights."""
    name = f"_linkc_written_model_{abs(hash(str(model_py)))}"
    spec = importlib.util.spec_from_file_location(name, model_py)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        model = module.Model()
        model.load_state_dict(gm.state_dict())
    except Exception as exc:  # noqa: BLE001 - sorted below: the plugin's, or linkc's
        raise _blamed(exc, f"{model_py} does not build the compiled module") from exc
    return model


class _Recorder:
    """Each called module's output, by module path, in call order, while in a `with`."""

    def __init__(self, root: nn.Module):
        self.root = root
        self.outputs: dict[str, Any] = {}
        self.hooks: list = []

    def __enter__(self) -> "_Recorder":
        self.hooks = [m.register_forward_hook(self._hook(name))
                      for name, m in self.root.named_modules() if name]
        return self

    def __exit__(self, *exc) -> None:
        for hook in self.hooks:
            hook.remove()

    def _hook(self, name: str):
        def record(module, args, output):
            self.outputs.setdefault(name, output)
        return record

    def first_difference(self, other: "_Recorder") -> str | None:
        for name, value in self.outputs.items():
            if not _same(value, other.outputs.get(name)):
                return name
        return None


def _flat(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat(v)]
    return []


def _blamed(exc: Exception, what: str) -> Exception:
    """The plugin's error when `exc` was raised in a plugin's code, else linkc's."""
    if isinstance(exc, PluginError):
        return exc
    for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__))):
        origin = plugins.origin_of_module(frame.f_globals.get("__name__", ""))
        if origin is not None:
            return plugins.blame(origin, f"code in {frame.f_globals['__name__']}",
                                 f"{what}: {type(exc).__name__}: {exc}")
    return RuntimeError(f"{what}: {type(exc).__name__}: {exc}")
