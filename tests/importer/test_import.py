"""`linkc import`: modules become specs that compute what the modules compute."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn

import linkc
from linkc.cli import main
from linkc.compiler import compile_graph
from linkc.importer import NotImportable, import_module
from tests.importer.corpus_check import repeats

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"


def compiled(result) -> nn.Module:
    gm = linkc.compile(result.spec)
    gm.load_state_dict(result.weights)
    return gm.eval()


def assert_same_outputs(a: nn.Module, b: nn.Module, shape, atol=1e-5) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        ya, yb = a.eval()(x), b.eval()(x)
    ya, yb = (ya, yb) if isinstance(ya, tuple) else ((ya,), (yb,))  # several outputs
    assert len(ya) == len(yb)
    for u, v in zip(ya, yb):
        assert torch.allclose(u, v, atol=atol, rtol=1e-4), (u - v).abs().max()


def randomise(module: nn.Module) -> nn.Module:
    """Non-trivial BN statistics, so a wrong pairing of layers changes the outputs."""
    torch.manual_seed(1)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return module


# ------------------------------------------------ a hand-written module
class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.down is None else self.down(x)
        return torch.relu(out + shortcut)


class Net(nn.Module):
    def __init__(self, widths=(8, 16), blocks=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for k, w in enumerate(widths):
            layers += [Basic(cin, w, 1 if k == 0 else 2)] + [Basic(w, w, 1)
                                                              for _ in range(blocks - 1)]
            cin = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


def test_a_hand_written_resnet_becomes_blocks_and_a_repeat_with_its_outputs():
    net = randomise(Net())
    result = import_module(net, (3, 16, 16))
    assert_same_outputs(net, compiled(result), (3, 16, 16))
    assert result.params == sum(p.numel() for p in net.parameters())
    text = result.spec
    assert "blocks:\n  basic:" in text            # named after the class
    assert "repeat:" in text and "gap" in text    # pool + flatten is gap
    # the widening block has a projection, so it is its own block of that class
    assert text.count("block: basic") >= 2


class Dense(nn.Module):
    """A dense block written the usual way: keep a list, concatenate it."""

    def __init__(self, c0=8, k=4, n=4):
        super().__init__()
        self.stem = nn.Conv2d(3, c0, 3, padding=1, bias=False)
        self.layers = nn.ModuleList(nn.Sequential(
            nn.BatchNorm2d(c0 + j * k), nn.ReLU(), nn.Conv2d(c0 + j * k, k, 3, padding=1,
                                                             bias=False)) for j in range(n))
        self.head = nn.Linear(c0 + n * k, 10)

    def forward(self, x):
        features = [self.stem(x)]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return self.head(torch.cat(features, 1).mean((2, 3)))


def test_a_concatenation_of_every_earlier_output_becomes_connect_dense():
    net = randomise(Dense())
    result = import_module(net, (3, 8, 8))
    assert "connect: dense" in result.spec and 4 in repeats(result.spec).values()
    assert_same_outputs(net, compiled(result), (3, 8, 8))


class Signed(nn.Module):
    """x - f(x) and (a + b) / 2: signed sums and means."""

    def __init__(self):
        super().__init__()
        self.f = nn.Conv2d(4, 4, 3, padding=1)
        self.g = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        m = torch.relu((self.f(x) + self.g(x)) / 2)
        return m - x


def test_signed_and_scaled_sums_become_wsum_and_mean():
    net = Signed()
    result = import_module(net, (4, 6, 6))
    assert "merge: wsum" in result.spec and "merge: mean" in result.spec
    assert "weight: -1" in result.spec
    assert_same_outputs(net, compiled(result), (4, 6, 6))


# ---------------------------------------------------- the zoo, both ways
def contents(g) -> tuple[Counter, Counter]:
    # an op call as the layer it lowers to (`stride: 1` and the default `stride: k` of a
    # 1x1 pool are one layer)
    ops = Counter((c.op.name, repr(sorted(c.op.lowering.kwargs(c.in_shape, c.args).items())))
                  for n in g.order for c in g.nodes[n].ops)
    merges = Counter((m.name, len(g.nodes[n].inputs)) for n in g.order
                     if (m := g.nodes[n].effective_merge()))
    return ops, merges


ZOO = ["resnet_20", "densenet_bc_100", "dmrnet_cifar", "resnet_s_18", "mobilenet_v2",
       "squeezenet_1_1", "unet", "efficientnet_b0"]


ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.yaml") if p.stem not in ZOO)


@pytest.mark.zoo
@pytest.mark.parametrize("name", ALL_SPECS)
def test_every_zoo_spec_round_trips(name):
    """The whole zoo (python -m pytest -m zoo): counts, outputs, contents."""
    test_zoo_round_trip_keeps_counts_outputs_and_folding(name, ratio=None)


# the zoo writes these stages as one repeat of a block whose shortcut is an `if:` node;
# the import writes the block's two variants as two blocks
LONGER = {"mobilenet_v2": 2.2, "efficientnet_b0": 2.2}


@pytest.mark.parametrize("name", ZOO)
def test_zoo_round_trip_keeps_counts_outputs_and_folding(name, ratio=2):
    ratio = LONGER.get(name, ratio) if ratio is not None else None
    path = SPECS / f"{name}.yaml"
    g = linkc.build(path)
    gm = randomise(compile_graph(g))
    result = import_module(gm, tuple(g.input_shape))
    assert result.params == sum(p.numel() for p in gm.parameters())
    # the same expanded graph up to naming and to where a merge read by one node is
    # written (its own node, or the merge of its reader's node): the same op calls and
    # the same merges
    again = linkc.build(result.spec)
    assert contents(again) == contents(g)
    assert_same_outputs(gm, compiled(result), tuple(g.input_shape), atol=1e-4)
    lines = lambda t: [l for l in t.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    if ratio is not None:
        assert len(lines(result.spec)) <= ratio * len(lines(path.read_text())), result.spec


@pytest.mark.parametrize("name", ["resnet_20", "densenet_40_k12"])
def test_the_written_model_py_imports_back_through_the_cli(tmp_path, name):
    """compile -o (no passes: the spec's own graph) -> import model.py -> the same graph."""
    spec = SPECS / f"{name}.yaml"
    assert main(["compile", str(spec), "--passes", "none", "-o", str(tmp_path / "out")]) == 0
    out = tmp_path / "net.yaml"
    weights = tmp_path / "net.safetensors"
    g = linkc.build(spec)
    # a factory that builds the generated model with its saved (pretrained) weights
    (tmp_path / "out" / "factory.py").write_text(textwrap.dedent(f"""
        import importlib.util
        from safetensors.torch import load_file

        def build():
            spec = importlib.util.spec_from_file_location("generated", {str(tmp_path / "out" / "model.py")!r})
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            model = module.Model()
            model.load_state_dict(load_file({str(tmp_path / "out" / "weights.safetensors")!r}))
            return model
    """))
    code = main(["import", f"{tmp_path / 'out' / 'factory.py'}:build", "--input",
                 ",".join(map(str, g.input_shape)), "-o", str(out), "--weights-out", str(weights)])
    assert code == 0
    from safetensors.torch import load_file

    original = linkc.compile(spec)
    original.load_state_dict(load_file(tmp_path / "out" / "weights.safetensors"))
    again = linkc.compile(out)
    again.load_state_dict(load_file(weights))
    assert_same_outputs(original, again, tuple(g.input_shape))
    assert contents(linkc.build(out)) == contents(g)
    assert "repeat:" in out.read_text()


# ------------------------------------------------------------- refusals
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        if x.sum() > 0:
            return self.conv(x)
        return x


class Unknown(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 1), nn.PixelShuffle(2))

    def forward(self, x):
        return self.body(x)


def test_data_dependent_control_flow_is_named():
    with pytest.raises(NotImportable) as err:
        import_module(Branchy(), (3, 4, 4))
    message = str(err.value)
    assert message.startswith("cannot trace module '(the model)' (Branchy, ")
    assert "branches on a tensor value" in message


def test_a_layer_without_an_op_names_its_path_class_and_the_plugin_route():
    with pytest.raises(NotImportable) as err:
        import_module(Unknown(), (3, 4, 4))
    assert str(err.value) == (
        f"the layer 'body.1' (PixelShuffle), in module 'body' at {__file__}:"
        f"{Unknown.forward.__code__.co_firstlineno + 1}: `return self.body(x)`: no op is the "
        "inverse of torch.nn.modules.pixelshuffle.PixelShuffle\n  supported: a plugin op "
        "that lowers to this class and names it in its `imports` (see linkc.extend) is "
        "imported like a built-in one")


def test_cli_errors_exit_2_with_the_message(tmp_path, capsys):
    source = tmp_path / "models.py"
    source.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Untraceable(nn.Module):
            def forward(self, x):
                return x if x.mean() > 0 else -x

        def build(width=4):
            return Untraceable()
    """))
    assert main(["import", f"{source}:build", "--input", "3,4,4"]) == 2
    assert "cannot trace module '(the model)' (Untraceable" in capsys.readouterr().err
    assert main(["import", f"{source}:nothing", "--input", "3,4,4"]) == 2
    assert f"'{source}' has no callable 'nothing'" in capsys.readouterr().err
    assert main(["import", f"{source}:build", "--input", "3,4,4", "--kwargs", "{bad"]) == 2
    assert "--kwargs is not JSON" in capsys.readouterr().err


@pytest.mark.parametrize("factory, kwargs, folded", [
    ("densenet_bc", {"depth": 40, "k": 12}, "connect: dense"),
    ("resnet_cifar", {"depth": 20}, "repeat:"),
    ("dmrnet", {"L": 12}, "block:"),
])
def test_the_hand_written_references_import_with_counts_and_outputs(factory, kwargs, folded):
    """The bench's references were written without linkc (option-A shortcuts by strided
    slicing and F.pad, dense blocks by re-concatenation, merge-and-run by 0.5 * (a + b))."""
    import importlib

    module = randomise(getattr(importlib.import_module(f"linkc.references.{_REF[factory]}"),
                               factory)(**kwargs))
    result = import_module(module, (3, 32, 32))
    assert result.params == sum(p.numel() for p in module.parameters())
    assert folded in result.spec
    if factory == "resnet_cifar":  # stage 1 whole, stages 2 and 3 a first block and 2 more
        assert sorted(repeats(result.spec).values()) == [2, 2, 3]
    assert_same_outputs(module, compiled(result), (3, 32, 32), atol=1e-4)


_REF = {"densenet_bc": "densenet", "resnet_cifar": "resnet", "dmrnet": "dmrnet"}
