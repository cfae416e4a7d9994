"""examples/plugin, really installed (tests/plugins/conftest.py): discovered through its
entry point by a fresh interpreter, turned off by `--no-plugins` three ways, and, loaded
into this process, compiled against a hand-written forward, written as model.py, listed
by `linkc ops`, analyzed, rendered and exported.

Two interpreters start here (besides pip's): what they test is a process's start (entry
point discovery, the flags, which modules a command imports); the rest runs in process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import fx

import linkc
from fuzz.oracles import run_cli

ROOT = Path(linkc.__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "plugin" / "fused.yaml"
PLAIN = """linkc: 1
name: plain
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [4, 3]}, bn, relu, gap, {linear: 2}]}
output: a
"""


def _python(site: Path, *args: str, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "LINKC_NO_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


FRESH_PROCESS = textwrap.dedent("""
    import contextlib, io, json, os, sys
    from linkc.cli import main

    def run(*argv, env=None):
        out, err = io.StringIO(), io.StringIO()
        os.environ.update(env or {})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
        for name in env or ():
            del os.environ[name]
        return {"code": code, "out": out.getvalue(), "err": err.getvalue()}

    spec, plain = sys.argv[1], sys.argv[2]
    report = {"off_ops": run("--no-plugins", "ops", "--json"),
              "flag": run("--no-plugins", "check", spec),
              "flag-after": run("check", spec, "--no-plugins"),
              "env": run("check", spec, env={"LINKC_NO_PLUGINS": "1"}),
              "plain": run("check", plain)}
    report["torch_for_plain"] = "torch" in sys.modules
    report["ops"] = run("ops", "--json")
    report["check"] = run("check", spec, "--json")
    report["torch_for_plugin_ops"] = "torch" in sys.modules
    print(json.dumps(report))
""")


@pytest.fixture(scope="module")
def fresh(site, tmp_path_factory) -> dict:
    """One new interpreter with the plugin installed: each command's result."""
    plain = tmp_path_factory.mktemp("plain") / "plain.yaml"
    plain.write_text(PLAIN)
    result = _python(site, "-c", FRESH_PROCESS, str(SPEC), str(plain))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_fresh_interpreter_discovers_the_entry_point(fresh):
    assert fresh["ops"]["code"] == 0, fresh["ops"]["err"]
    rows = json.loads(fresh["ops"]["out"])
    assert {r["name"]: r["origin"] for r in rows["ops"]}["sepconv"] == "linkc-example-plugin"
    off = json.loads(fresh["off_ops"]["out"])
    assert "sepconv" not in {r["name"] for r in off["ops"]}
    assert fresh["check"]["code"] == 0, fresh["check"]["err"]


def test_check_imports_torch_only_for_a_spec_with_plugin_ops(fresh):
    """The plugin is loaded for every command, but its modules (and torch) only when a
    spec uses its entries: their parameter rules are checked against the modules then."""
    assert fresh["plain"]["code"] == 0, fresh["plain"]["err"]
    assert fresh["torch_for_plain"] is False
    assert fresh["torch_for_plugin_ops"] is True


@pytest.mark.parametrize("how", ["flag", "flag-after", "env"])
def test_without_plugins_the_spec_gets_a_located_error(fresh, how):
    result = fresh[how]
    assert result["code"] == 2
    assert "Traceback" not in result["err"]
    lines = result["err"].splitlines()
    assert lines[0] == (f"{SPEC}:7:26: error: unknown op 'sepconv': not built in, and plugins "
                        "are turned off (--no-plugins or LINKC_NO_PLUGINS)")
    assert lines[2].strip().endswith("^")


def test_a_plugin_that_fails_to_import_is_named(tmp_path):
    """A broken install (its module raises on import) stops every command with the
    distribution's name and the way out, not a traceback; --no-plugins gets past it."""
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[linkc.plugins]\nbroken = broken_plugin_mod\n")
    (tmp_path / "broken_plugin_mod.py").write_text("raise RuntimeError('oops')\n")
    script = ("import sys; from linkc.cli import main; "
              "codes = [main(['--no-plugins', 'ops']), main(['ops'])]; print(codes, file=sys.stderr)")
    result = _python(tmp_path, "-c", script)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "[0, 2]"
    assert lines[-3] == (
        "linkc: plugin 'broken-plugin' (entry point broken = broken_plugin_mod in group "
        "linkc.plugins) failed to load: RuntimeError: oops")
    assert "--no-plugins" in lines[-2]


# ------------------------------------------------------------------ in this process
def _hand_written(gm: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """fused.yaml by hand, from the weights of a module (compiled, or model.py's)."""
    P, B = dict(gm.named_parameters()), dict(gm.named_buffers())

    def bn(t, p):
        return F.batch_norm(t, B[p + ".running_mean"], B[p + ".running_var"],
                            P[p + ".weight"], P[p + ".bias"], False, 0.0, 1e-5)

    def sep(t, p, stride):
        dw = P[p + ".depthwise.weight"]
        t = F.conv2d(t, dw, stride=stride, padding=1, groups=dw.shape[0])
        return F.conv2d(t, P[p + ".pointwise.weight"])

    stem = torch.relu(bn(F.conv2d(x, P["stem.conv1.weight"], padding=1), "stem.bn1"))
    a = 2.0 * torch.tanh(bn(sep(stem, "a.sepconv1", 2), "a.bn1") / 2.0)
    b = F.conv2d(F.max_pool2d(stem, 2), P["b.conv1.weight"])
    b = 3.0 * torch.tanh(bn(b, "b.bn1") / 3.0)
    w = torch.relu(P["fuse.merge.weight"])
    w = w / (w.sum() + 1e-4)
    fuse = sep(torch.relu(w[0] * a + w[1] * b), "fuse.sepconv1", 1)
    return F.linear(fuse.mean((2, 3)), P["head.linear1.weight"], P["head.linear1.bias"])


# conv 216 + bn 16 + sepconv 8*9 + 8*16 + bn 32 + conv 128 + bn 32 + fastfuse 2
# + sepconv 16*9 + 16*24 + linear 250
PARAMS = 216 + 16 + 200 + 32 + 128 + 32 + 2 + 528 + 250


def test_compiled_spec_matches_shapes_and_a_hand_written_forward(example):
    gm = linkc.compile(SPEC)
    with torch.no_grad():
        for p in gm.parameters():
            p.copy_(torch.rand(p.shape) + 0.5)  # fastfuse weights away from their init
    gm.eval()
    x = torch.randn(2, 3, 16, 16)
    shapes = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if "linkc" in n.meta and n.op != "output":
                shapes[n.name] = (list(n.meta["linkc"]["shape"]), list(out.shape[1:]))
            return out

    with torch.no_grad():
        out = Recorder(gm).run(x)
        ref = _hand_written(gm, x)
    assert shapes and all(inferred == real for inferred, real in shapes.values()), shapes
    assert shapes["a_sepconv1"][1] == [16, 8, 8]
    assert (out - ref).abs().max().item() < 1e-5
    assert sum(p.numel() for p in gm.parameters()) == PARAMS
    code, stdout, err = run_cli(["check", str(SPEC), "--json"])
    assert code == 0, err
    assert json.loads(stdout)["parameters"] == PARAMS  # the rules, checked against the modules


def test_generated_model_py_imports_the_plugin_and_computes_the_same(example, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_cli(["compile", str(SPEC), "-o", str(out)])
    assert code == 0, err  # compile -o ran model.py against the module: torch.equal
    source = (out / "model.py").read_text()
    assert "import linkc_example.modules\n" in source
    assert "linkc_example.modules.SeparableConv2d(in_channels=8, out_channels=16" in source
    assert "from linkc" not in source and "import linkc\n" not in source
    namespace: dict = {}
    exec(compile(source, str(out / "model.py"), "exec"), namespace)  # noqa: S102
    model = namespace["Model"]()
    model.load_state_dict(load_file(out / "weights.safetensors"))
    model.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert (model(x) - _hand_written(model, x)).abs().max().item() < 1e-5


def test_linkc_ops_lists_the_plugin_entries_with_their_origin(example):
    code, stdout, err = run_cli(["ops", "--json"])
    assert code == 0, err
    rows = json.loads(stdout)
    ops = {r["name"]: r for r in rows["ops"]}
    merges = {r["name"]: r for r in rows["merges"]}
    assert ops["sepconv"]["origin"] == "linkc-example-plugin"
    assert ops["sepconv"]["signature"] == "sepconv(out, k=3, stride=1)"
    assert ops["softclip"]["traits"] == ["elementwise"]
    assert merges["fastfuse"]["origin"] == "linkc-example-plugin" and merges["fastfuse"]["learnable"]
    assert ops["relu"]["origin"] == merges["add"]["origin"] == "built-in"
    text = run_cli(["ops"])[1]
    assert any(line.split()[:1] == ["fastfuse(x1,"] and "linkc-example-plugin" in line
               for line in text.splitlines())


def test_analyze_render_and_export_take_plugin_entries(example, tmp_path):
    code, stdout, err = run_cli(["analyze", str(SPEC), "--json"])
    assert code == 0, err
    # stem 8*3*9*16*16; a: depthwise 8*9*8*8 + pointwise 8*16*64; b: 8*16*64;
    # fuse: depthwise 16*9*64 + pointwise 16*24*64; linear 24*10
    assert json.loads(stdout)["macs"] == 55296 + 4608 + 8192 + 8192 + 9216 + 24576 + 240
    assert run_cli(["render", str(SPEC), "-o", str(tmp_path / "plugin.dot")])[0] == 0
    dot = (tmp_path / "plugin.dot").read_text()
    assert "sepconv" in dot and "ff" in dot  # the op's name and the merge's glyph
    code, _, err = run_cli(["export", str(SPEC), "--format", "torchscript",
                            "-o", str(tmp_path / "plugin.pt")])
    assert code == 0, err
    assert (tmp_path / "plugin.pt").stat().st_size > 0
