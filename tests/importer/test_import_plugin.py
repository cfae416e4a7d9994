"""A plugin op whose lowering is a layer, and whose registry row names that layer in
`imports`, is imported like a built-in one; without the row the layer is refused with
the route to a plugin. Registered in this process, removed after."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

import linkc
from linkc.extend import Args, Inverse, Lowering, OpDef, register_op
from linkc.importer import NotImportable, import_module
from linkc.ops import OPS


class SoftShrink(nn.Module):
    """A layer linkc has no built-in op for."""

    def __init__(self, lam: float = 0.5):
        super().__init__()
        self.lam = lam

    def forward(self, x):
        return F.softshrink(x, self.lam)

    def extra_repr(self) -> str:
        return f"lam={self.lam}"


class ShrinkArgs(Args):
    lam: float = Field(0.5, gt=0, description="the width of the soft dead zone")


def net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), SoftShrink(0.25),
                         nn.Conv2d(4, 4, 1)).eval()


@pytest.fixture
def soft_shrink():
    op = OpDef("soft_shrink", ShrinkArgs, lambda s, a: s,
               Lowering(f"{__name__}:SoftShrink", lambda s, a: {"lam": a.lam}),
               "soft shrinkage: x moved towards 0 by lam, 0 within lam",
               imports=(Inverse(f"{__name__}:SoftShrink", {"lam": "lam"}),))
    register_op(op)
    try:
        yield
    finally:
        OPS.remove("soft_shrink")


def test_without_the_plugin_the_layer_is_refused_with_the_plugin_route():
    with pytest.raises(NotImportable) as err:
        import_module(net(), (3, 8, 8))
    assert str(err.value).startswith("the call F.softshrink(), in module '2' at ")
    assert "supported: a plugin op whose `imports` names it" in str(err.value)


def test_a_plugin_op_naming_the_layer_imports_it_exactly(soft_shrink):
    module = net()
    result = import_module(module, (3, 8, 8))
    assert "{soft_shrink: 0.25}" in result.spec
    again = linkc.compile(result.spec)
    again.load_state_dict(result.weights)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(module(x), again.eval()(x))


def test_a_plugin_op_that_fails_when_checked_is_named_as_the_plugin_s_fault():
    def broken(s, a):
        raise RuntimeError("the plugin's lowering rule is broken")

    register_op(OpDef("soft_shrink", ShrinkArgs, lambda s, a: s,
                      Lowering(f"{__name__}:SoftShrink", lambda s, a: {"lam": a.lam}),
                      "soft shrinkage", imports=(Inverse(f"{__name__}:SoftShrink",
                                                         {"lam": "lam"}),)))
    try:
        OPS["soft_shrink"] = replace(OPS["soft_shrink"],
                                     lowering=Lowering(f"{__name__}:SoftShrink", broken))
        with pytest.raises(NotImportable) as err:
            import_module(net(), (3, 8, 8))
    finally:
        OPS.remove("soft_shrink")
    assert str(err.value).startswith(f"op 'soft_shrink' of module {__name__} failed while")
    assert "a fault of that plugin" in str(err.value)
