"""examples/plugin, really installed (pip, with its dist-info, so its entry point is
discovered), then used from fresh processes: compile, shapes against a forward pass,
numbers against a hand-written forward, the generated model.py, `linkc ops`, and the
located error when plugins are off."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import linkc

ROOT = Path(linkc.__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin"
SPEC = EXAMPLE / "fused.yaml"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The plugin installed into a fresh directory (offline: no index, no build isolation)."""
    tmp = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(EXAMPLE, tmp / "src")  # the build writes into its source tree
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    assert list(target.glob("linkc_example_plugin-*.dist-info/entry_points.txt"))
    return target


def _run(site: Path, *args: str, env: dict | None = None, cwd=None):
    full = {k: v for k, v in os.environ.items() if k != "LINKC_NO_PLUGINS"}
    full.update(PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]), **(env or {}))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=full,
                          cwd=cwd, timeout=300)


FORWARD_CHECK = textwrap.dedent("""
    import json, sys
    import torch
    import torch.nn.functional as F
    from torch import fx
    import linkc

    gm = linkc.compile(sys.argv[1])
    torch.manual_seed(1)
    with torch.no_grad():
        for p in gm.parameters():
            p.copy_(torch.rand(p.shape) + 0.5)   # fastfuse weights away from their init
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

    # the same network by hand, from the same weights
    P = dict(gm.named_parameters()); B = dict(gm.named_buffers())
    def bn(t, p):
        return F.batch_norm(t, B[p + ".running_mean"], B[p + ".running_var"],
                            P[p + ".weight"], P[p + ".bias"], False, 0.0, 1e-5)
    def sep(t, p, stride):
        dw = P[p + ".depthwise.weight"]
        t = F.conv2d(t, dw, stride=stride, padding=1, groups=dw.shape[0])
        return F.conv2d(t, P[p + ".pointwise.weight"])
    with torch.no_grad():
        stem = torch.relu(bn(F.conv2d(x, P["stem.conv1.weight"], padding=1), "stem.bn1"))
        a = 2.0 * torch.tanh(bn(sep(stem, "a.sepconv1", 2), "a.bn1") / 2.0)
        b = F.conv2d(F.max_pool2d(stem, 2), P["b.conv1.weight"])
        b = 3.0 * torch.tanh(bn(b, "b.bn1") / 3.0)
        w = torch.relu(P["fuse.merge.weight"]); w = w / (w.sum() + 1e-4)
        fuse = sep(torch.relu(w[0] * a + w[1] * b), "fuse.sepconv1", 1)
        ref = F.linear(fuse.mean((2, 3)), P["head.linear1.weight"], P["head.linear1.bias"])
    print(json.dumps({"shapes": shapes, "max_err": (out - ref).abs().max().item(),
                      "params": sum(p.numel() for p in gm.parameters())}))
""")


def test_compiled_spec_matches_shapes_and_a_hand_written_forward(site):
    result = _run(site, "-c", FORWARD_CHECK, str(SPEC))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["shapes"] and all(m == r for m, r in report["shapes"].values()), report
    assert report["shapes"]["a_sepconv1"][1] == [16, 8, 8]
    assert report["max_err"] < 1e-5
    # conv 216 + bn 16 + sepconv 8*9 + 8*16 + bn 32 + conv 128 + bn 32 + fastfuse 2
    # + sepconv 16*9 + 16*24 + linear 250
    assert report["params"] == 216 + 16 + 200 + 32 + 128 + 32 + 2 + 528 + 250
    check = _run(site, "-m", "linkc", "check", str(SPEC), "--json")
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["parameters"] == report["params"]  # the registry's rules


def test_generated_model_py_imports_the_plugin_and_runs(site, tmp_path):
    out = tmp_path / "out"
    compiled = _run(site, "-m", "linkc", "compile", str(SPEC), "-o", str(out))
    assert compiled.returncode == 0, compiled.stderr
    source = (out / "model.py").read_text()
    assert "import linkc_example.modules\n" in source
    assert "linkc_example.modules.SeparableConv2d(in_channels=8, out_channels=16" in source
    assert "from linkc" not in source and "import linkc\n" not in source
    script = textwrap.dedent(f"""
        import sys, torch
        from safetensors.torch import load_file
        sys.path.insert(0, {str(out)!r})
        from model import Model
        import linkc
        model = Model(); model.load_state_dict(load_file({str(out / "weights.safetensors")!r}))
        gm = linkc.compile({str(SPEC)!r}); gm.load_state_dict(load_file(
            {str(out / "weights.safetensors")!r}))
        model.eval(); gm.eval()
        x = torch.randn(2, 3, 16, 16)
        print((model(x) - gm(x)).abs().max().item())
    """)
    ran = _run(site, "-c", script, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert float(ran.stdout) < 1e-5  # compile ran its default passes (channels_last)


def test_linkc_ops_lists_the_plugin_entries_with_their_origin(site):
    listed = _run(site, "-m", "linkc", "ops", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    ops = {r["name"]: r for r in rows["ops"]}
    merges = {r["name"]: r for r in rows["merges"]}
    assert ops["sepconv"]["origin"] == "linkc-example-plugin"
    assert ops["sepconv"]["signature"] == "sepconv(out, k=3, stride=1)"
    assert ops["softclip"]["traits"] == ["elementwise"]
    assert merges["fastfuse"]["origin"] == "linkc-example-plugin" and merges["fastfuse"]["learnable"]
    assert ops["relu"]["origin"] == merges["add"]["origin"] == "built-in"
    text = _run(site, "-m", "linkc", "ops").stdout
    assert any(line.split()[:1] == ["fastfuse(x1,"] and "linkc-example-plugin" in line
               for line in text.splitlines())
    off = json.loads(_run(site, "-m", "linkc", "--no-plugins", "ops", "--json").stdout)
    assert "sepconv" not in {r["name"] for r in off["ops"]}


@pytest.mark.parametrize("how", ["flag", "flag-after", "env"])
def test_without_plugins_the_spec_gets_a_located_error(site, how):
    args = {"flag": ["--no-plugins", "check", str(SPEC)],
            "flag-after": ["check", str(SPEC), "--no-plugins"],
            "env": ["check", str(SPEC)]}[how]
    result = _run(site, "-m", "linkc", *args,
                  env={"LINKC_NO_PLUGINS": "1"} if how == "env" else None)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == (f"{SPEC}:7:26: error: unknown op 'sepconv': not built in, and plugins "
                        "are turned off (--no-plugins or LINKC_NO_PLUGINS)")
    assert lines[2].strip().endswith("^")


def test_a_plugin_that_fails_to_import_is_named(site, tmp_path):
    """A broken install (its module raises on import) stops every command with the
    distribution's name and the way out, not a traceback."""
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[linkc.plugins]\nbroken = broken_plugin_mod\n")
    (tmp_path / "broken_plugin_mod.py").write_text("raise RuntimeError('oops')\n")
    full = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    full.pop("LINKC_NO_PLUGINS", None)
    result = subprocess.run([sys.executable, "-m", "linkc", "ops"], capture_output=True,
                            text=True, env=full, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        "linkc: plugin 'broken-plugin' (entry point broken = broken_plugin_mod in group "
        "linkc.plugins) failed to load: RuntimeError: oops")
    assert "--no-plugins" in result.stderr
    off = subprocess.run([sys.executable, "-m", "linkc", "--no-plugins", "ops"],
                         capture_output=True, text=True, env=full, timeout=300)
    assert off.returncode == 0, off.stderr


STAGES = textwrap.dedent("""
    import contextlib, io, json, sys
    from linkc.cli import main
    spec, out = sys.argv[1], sys.argv[2]
    analyzed = io.StringIO()
    with contextlib.redirect_stdout(analyzed):
        codes = [main(["analyze", spec, "--json"])]
    codes += [main(["render", spec, "-o", out + "/plugin.dot"]),
              main(["export", spec, "--format", "torchscript", "-o", out + "/plugin.pt"])]
    print(json.dumps({"codes": codes, "macs": json.loads(analyzed.getvalue())["macs"]}))
""")


def test_analyze_render_and_export_take_plugin_entries(site, tmp_path):
    result = _run(site, "-c", STAGES, str(SPEC), str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["codes"] == [0, 0, 0], result.stderr
    # stem 8*3*9*16*16; a: depthwise 8*9*8*8 + pointwise 8*16*64; b: 8*16*64;
    # fuse: depthwise 16*9*64 + pointwise 16*24*64; linear 24*10
    assert report["macs"] == 55296 + 4608 + 8192 + 8192 + 9216 + 24576 + 240
    dot = (tmp_path / "plugin.dot").read_text()
    assert "sepconv" in dot and "ff" in dot  # the op's name and the merge's glyph
    assert (tmp_path / "plugin.pt").stat().st_size > 0
