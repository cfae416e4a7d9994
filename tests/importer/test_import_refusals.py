"""What a static topology cannot hold is refused with where and why: the module path,
the user's file, line and source, the construct, the reason, and the spelling that
works. The Python API raises the error the CLI prints (exit 2). None is an internal
error, and no import writes a spec that fails its own check."""

from __future__ import annotations

import inspect
import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from linkc.cli import main
from linkc.errors import UserError
from linkc.importer import NotImportable, import_module


class Wrapper(nn.Module):
    """Holds the construct in `inner`, so the module path is part of the message."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.inner = inner

    def forward(self, x):
        return self.inner(self.stem(x))


class OneChannel(nn.Module):
    def forward(self, x):
        return x[:, 0]


class SpatialPad(nn.Module):
    def forward(self, x):
        return F.pad(x, (1, 1, 1, 1))


class OddReshape(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), 2, -1)


class BatchArithmetic(nn.Module):
    def forward(self, x):
        return x.reshape(x.size(0) * 2, -1)


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        return self.conv(self.conv(x))


class OwnWeight(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(8, 8, 3, 3))

    def forward(self, x):
        return F.conv2d(x, self.weight, padding=1)


class BiasAdded(nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(8, 1, 1))

    def forward(self, x):
        return x + self.bias


CASES = [
    (OneChannel, "the indexing x[:, 0]", "drops a dimension", "x[:, a:b]"),
    (SpatialPad, "F.pad(1, 1, 1, 1) of the spatial dimensions", "linkc has no padding op",
     "the conv's or pool's own padding"),
    (OddReshape, "the reshape x.view() from [8, 4, 4] to [2, 64]", "(C, H, W) maps and (F,)",
     "x.view(x.size(0), -1)"),
    (BatchArithmetic, "operator.mul() on the batch size", "leaves the batch size open",
     "x.view(x.size(0), -1)"),
    (Twice, "the layer 'inner.conv' (Conv2d) called a second time", "share its weights",
     "a separate layer for each call"),
    (OwnWeight, "the call F.conv2d() reading the parameter 'inner.weight'",
     "a layer's weights belong to its module", "the layer class (nn.Conv2d rather than"),
    (BiasAdded, "a sum reading the parameter 'inner.bias'", "per-channel multiplier",
     "x * self.gamma.view(1, -1, 1, 1)"),
]


@pytest.mark.parametrize("cls, construct, why, supported", CASES)
def test_a_refusal_names_module_line_construct_reason_and_spelling(cls, construct, why,
                                                                   supported):
    with pytest.raises(NotImportable) as err:
        import_module(Wrapper(cls()), (3, 4, 4))
    message = str(err.value)
    lines, first = inspect.getsourcelines(cls.forward)
    line = first + len(lines) - 1  # each forward's construct is its last line
    where = f"{__file__}:{line}: `{lines[-1].strip()}`"
    assert message.startswith(construct), message
    assert "in module 'inner'" in message and where in message, message
    assert why in message and f"supported: {supported}" in message, message
    assert isinstance(err.value, UserError)


def test_the_cli_prints_the_same_located_error_with_exit_2(tmp_path, capsys):
    source = tmp_path / "models.py"
    source.write_text(textwrap.dedent("""
        import torch.nn.functional as F
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)

            def forward(self, x):
                return F.pad(self.conv(x), (2, 0, 0, 0))

        def build():
            return Net()
    """))
    with pytest.raises(NotImportable) as err:
        from linkc.importer import load_factory

        import_module(load_factory(f"{source}:build"), (3, 8, 8))
    assert main(["import", f"{source}:build", "--input", "3,8,8"]) == 2
    printed = capsys.readouterr().err
    assert str(err.value) in printed
    assert f"{source}:11: `return F.pad(self.conv(x), (2, 0, 0, 0))`" in printed


class Gate(nn.Module):
    """`[:, :, None, None]` on a gate was an internal error (the slice reader)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return x * torch.sigmoid(self.fc(x.mean((2, 3))))[:, :, None, None]


def test_none_indexing_of_a_gate_imports_exactly():
    import linkc

    module = Wrapper(Gate()).eval()
    result = import_module(module, (3, 6, 6))
    again = linkc.compile(result.spec)
    again.load_state_dict(result.weights)
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        assert torch.equal(module(x), again.eval()(x))
