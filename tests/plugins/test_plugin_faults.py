"""A faulty plugin is refused as the plugin's fault: at registration, at the first command
that uses its entries, or when `linkc compile -o` writes model.py; each time a
PluginError (exit 2) naming its distribution and entry point and the way out, never "a
bug in linkc" and never a wrong number printed with exit 0.

The plugins are the fuzz target's (tests/fuzz/plugin_faults.py), each with one fault,
installed into a temporary directory and loaded into this process."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from fuzz.oracles import run_cli
from fuzz.plugin_faults import SPEC, loaded, names_the_plugin, plugin_source, write_dist
from linkc.errors import UserError
from linkc.extend import PluginError

_NUMBERS = itertools.count()


def _plugin(tmp_path: Path, faults: list[str], learnable: bool = False,
            rule_less: bool = False, c: int = 3, h: int = 5, w: int = 4, bias: bool = False):
    """(site, dist, op name, spec path) of a generated plugin with `faults`."""
    n = next(_NUMBERS)
    package, dist = f"faultyplug{n}", f"faulty-plugin-{n}"
    names = {"PKG": package, "OP": f"chanscale{n}", "MERGE": f"mix{n}"}
    if rule_less:
        names.update(TRAITS="frozenset()", PARAMS_RULE="None")
    site = tmp_path / f"site{n}"
    write_dist(site, dist, package, plugin_source(names, learnable, faults))
    spec = tmp_path / f"spec{n}.yaml"
    spec.write_text(SPEC.format(c=c, h=h, w=w, k=8, bias=str(bias).lower())
                    .replace("OP", names["OP"]).replace("MERGE", names["MERGE"]))
    return site, dist, names["OP"], spec


def _refused(message: str, dist: str) -> None:
    assert names_the_plugin(message, dist), message
    assert "Traceback" not in message


@pytest.mark.parametrize("fault,problem", [
    ("missing module", "lowering target 'PKG.modulez:Scale' does not exist: there is no "
                       "module named 'PKG.modulez'"),
    ("missing class", "lowering target 'PKG.modules:Scael' does not exist: module "
                      "'PKG.modules' (SITE/PKG/modules.py) defines no 'Scael'"),
    ("op target a function", "lowering target 'PKG.modules:maxi' is a function, and it must "
                             "be a subclass of torch.nn.Module"),
    ("merge target a class", "merge 'MERGE': lowering target 'PKG.modules:Mix' is a class, and "
                             "it must be a function of the inputs (a merge without parameters)"),
    ("kwargs misspelt", "PKG.modules:Scale(channels, bias=False) cannot be called with what its "
                        "kwargs rule gives for a sample input (chanels): missing a required "
                        "argument: 'channels'"),
    ("shape a list", "its shape rule returned [8, 8, 8] for input shape [8, 8, 8]: a shape "
                     "rule returns a tuple of positive ints, not a list"),
    ("shape zero", "its shape rule returned (0, 8, 8) for input shape [8, 8, 8]: a shape rule "
                   "returns positive ints, and 0 is not one"),
])
def test_a_faulty_registration_is_refused_when_the_plugin_loads(tmp_path, fault, problem):
    site, dist, op, _ = _plugin(tmp_path, [fault])
    package = op.replace("chanscale", "faultyplug")
    with pytest.raises(PluginError) as info:
        with loaded(site, dist):
            pass
    message = str(info.value)
    assert isinstance(info.value, UserError)  # exit 2 at the command line
    _refused(message, dist)
    expected = problem.replace("SITE", str(site)).replace("PKG", package).replace(
        "MERGE", op.replace("chanscale", "mix"))
    assert expected in message


def test_check_refuses_a_wrong_parameter_rule_naming_both_counts(tmp_path):
    """Before: `linkc check` printed the rule's number, exit 0, and compile built another."""
    site, dist, op, spec = _plugin(tmp_path, ["params zero"])
    with loaded(site, dist):
        code, out, err = run_cli(["check", str(spec)])
    assert code == 2 and out == ""
    _refused(err, dist)
    package = op.replace("chanscale", "faultyplug")
    assert (f"op '{op}': its parameter rule counts 0 for input shape [8, 5, 4] and "
            f"ScaleArgs(bias=False), but its module {package}.modules:Scale has 8") in err


@pytest.mark.parametrize("bias", [False, True])
def test_an_op_without_a_parameter_rule_is_counted_from_its_module(tmp_path, bias):
    site, dist, _, spec = _plugin(tmp_path, [], learnable=True, rule_less=True, bias=bias)
    with loaded(site, dist):
        code, out, err = run_cli(["check", str(spec), "--json"])
        assert code == 0, err
        compiled = run_cli(["compile", str(spec), "-o", str(tmp_path / "out")])
    # conv 3->8 3x3 + scale (weight 8, shift 8 with bias) + conv 3->8 1x1 + mix 2 + linear 8->3
    expected = 3 * 8 * 9 + 8 * (2 if bias else 1) + 3 * 8 + 2 + 8 * 3 + 3
    assert json.loads(out)["parameters"] == expected
    assert compiled[0] == 0, compiled[2]
    assert f"{expected:,} parameters" in compiled[1]


@pytest.mark.parametrize("fault,problem", [
    ("shape a list on use", "its shape rule returned [8, 5, 4] for input shape [8, 5, 4] and "
                            "ScaleArgs(bias=False): a shape rule returns a tuple of positive "
                            "ints, not a list"),
    ("shape rule raises on use", "its shape rule failed for input shape [8, 5, 4] and "
                                 "ScaleArgs(bias=False): KeyError: (8, 5, 4)"),
    ("constructor refuses", "its module Scale(**{'channels': -8}) for input shape [8, 5, 4] "
                            "cannot be built: RuntimeError: "),
    ("merge count wrong", "its count_params rule counts 2 for inputs [8, 5, 4], [8, 5, 4], but "
                          "its module PKG.modules:Mix has 3"),
])
def test_a_rule_that_fails_on_real_input_is_the_plugins_error_at_first_use(tmp_path, fault,
                                                                             problem):
    site, dist, op, spec = _plugin(tmp_path, [fault])
    with loaded(site, dist):
        code, out, err = run_cli(["check", str(spec)])
    assert code == 2, out
    _refused(err, dist)
    assert problem.replace("PKG", op.replace("chanscale", "faultyplug")) in err
    # and the use that met the fault, with the spec line (node m is the merge, a the op)
    node, line, col = ("m", 7, 3) if fault.startswith("merge") else ("a", 5, 42)
    assert f"\n  used by node '{node}' at {spec}:{line}:{col}\n" in err


@pytest.mark.parametrize("fault,problem", [
    ("no extra_repr", "model.py would build it as PKG.modules.Scale(), which fails: TypeError: "),
    ("random forward", "model.py would build it as PKG.modules.Scale(channels=8, bias=False), "
                       "which computes other values from the same input and weights"),
])
def test_compile_names_the_plugin_module_model_py_cannot_rebuild(tmp_path, fault, problem):
    site, dist, op, spec = _plugin(tmp_path, [fault])
    out = tmp_path / "out"
    with loaded(site, dist):
        assert run_cli(["check", str(spec)])[0] == 0
        code, _, err = run_cli(["compile", str(spec), "-o", str(out)])
    assert code == 2
    _refused(err, dist)
    package = op.replace("chanscale", "faultyplug")
    assert f"at 'a.{op}1'" in err
    assert problem.replace("PKG", package) in err
    if fault == "no extra_repr":
        assert "its extra_repr() must return the constructor's keyword arguments" in err
        assert not out.exists()  # refused before anything was written


def test_a_registration_module_may_name_a_class_it_defines_further_down(tmp_path):
    """While its module is being imported, a target is read from its source."""
    register = '''
        from linkc.extend import Lowering, NoArgs, OpDef, register_op
        register_op(OpDef("later", NoArgs, lambda s, a: s, Lowering("laterplug.register:Later"),
                          "defined below"))
        register_op(OpDef("never", NoArgs, lambda s, a: s, Lowering("laterplug.register:Never"),
                          "defined nowhere"))
        from torch import nn
        class Later(nn.Identity):
            pass
    '''
    write_dist(tmp_path, "later-plugin", "laterplug", {"register.py": register})
    with pytest.raises(PluginError) as info:
        with loaded(tmp_path, "later-plugin"):
            pass
    assert "op 'never': lowering target 'laterplug.register:Never' does not exist: module " \
           f"'laterplug.register' ({tmp_path}/laterplug/register.py) defines no 'Never'" \
        in str(info.value)


def test_train_refuses_a_module_model_py_cannot_rebuild_before_the_first_step(tmp_path):
    """Before: the run trained every epoch and then failed writing model.py."""
    site, dist, op, spec = _plugin(tmp_path, ["no extra_repr"])
    run_dir = tmp_path / "run"
    with loaded(site, dist):
        code, out, err = run_cli(["train", str(spec), "--data", "synthetic", "--epochs", "1",
                                  "--batch-size", "4", "--threads", "1", "--no-plot",
                                  "--run-dir", str(run_dir)])
    assert code == 2, out + err
    _refused(err, dist)
    assert f"at 'a.{op}1'" in err and "model.py would build it as" in err
    assert "epoch" not in out  # no step ran
    assert not run_dir.exists()  # nothing claimed
