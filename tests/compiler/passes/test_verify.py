"""`linkc compile --verify` and LINKC_VERIFY_PASSES: a pass that changes what the module
computes beyond what its row declares is exit 2, named with the spec position of the
first node whose value changed; passes that keep their promise pass through."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

import linkc
from linkc.cli import main
from linkc.compiler import passes
from linkc.compiler.passes import Pass, PassError, default_passes, run_passes
from linkc.extend import Lowering, OpDef, register_op
from linkc.ops import OPS



class WSConv(nn.Conv2d):
    """A plugin's weight-standardised convolution: filters normalised in forward."""

    def forward(self, x):
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return self._conv_forward(x, w, self.bias)


def fold_into_subclasses(gm: fx.GraphModule) -> fx.GraphModule:
    """fold_bn as it was: any isinstance(Conv2d) took the BN, a subclass included."""
    modules = dict(gm.named_modules())
    for bn_node in list(gm.graph.nodes):
        bn = modules.get(bn_node.target) if bn_node.op == "call_module" else None
        conv_node = bn_node.args[0] if bn_node.args else None
        if not isinstance(bn, nn.BatchNorm2d) or conv_node.op != "call_module":
            continue
        conv = modules[conv_node.target]
        if isinstance(conv, nn.Conv2d) and len(conv_node.users) == 1:
            with torch.no_grad():
                conv.weight, conv.bias = fuse_conv_bn_weights(
                    conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                    bn.weight, bn.bias)
            bn_node.replace_all_uses_with(conv_node)
            gm.graph.erase_node(bn_node)
            gm.delete_submodule(bn_node.target)
    gm.recompile()
    return gm


def swap_merge_inputs(gm: fx.GraphModule) -> fx.GraphModule:
    """Declared exact, but reorders a sum: (b + a) + c for (a + b) + c."""
    for node in gm.graph.nodes:
        if node.op == "call_function" and len(node.args) == 3:
            a, b, c = node.args
            node.args = (b, c, a)
    gm.recompile()
    return gm


@pytest.fixture
def wrong_passes(monkeypatch):
    for name, fn, bound in (("old_fold_bn", fold_into_subclasses, 1e-9),
                            ("swap_inputs", swap_merge_inputs, None)):
        monkeypatch.setitem(passes.BY_NAME, name, Pass(name, fn, frozenset({"train", "infer"}),
                                                       frozenset(), bound, True))
    conv = OPS["conv"]
    register_op(OpDef("wsconv", conv.args, conv.infer,
                      Lowering(f"{__name__}:WSConv", conv.lowering.kwargs),
                      "weight-standardised conv", conv.traits, params=conv.params))
    yield
    OPS.remove("wsconv")


SPEC = """linkc: 1
name: small
input: [3, 8, 8]
nodes:
  a: {from: input, ops: [{conv: [8, 3]}, bn, relu]}
  b: {from: a, ops: [{wsconv: [8, 3]}, bn, relu]}
  d: {from: input, ops: [{conv: [8, 1]}]}
  c: {from: [a, b, d], merge: add, ops: [gap, {linear: 3}]}
output: c
"""


def _randomized(gm):
    gen = torch.Generator().manual_seed(3)
    for m in gm.modules():
        if type(m) is nn.BatchNorm2d:
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return gm


def test_a_pass_that_changes_values_is_exit_2_at_the_node(wrong_passes, tmp_path, capsys,
                                                            monkeypatch):
    spec = tmp_path / "small.yaml"
    spec.write_text(SPEC)
    # the lowered module with its fresh BN statistics: folding them is the identity on
    # the plain conv; the weight-standardised conv undoes any fold, so its output moves
    assert main(["compile", str(spec), "--mode", "infer", "--passes", "old_fold_bn",
                 "--verify"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{spec}:6:44: error: pass 'old_fold_bn' changed the values of the "
                          "network: output 0 is "), err
    assert "the first value that changed is fx node b_relu1 (node b, op:relu)'s (it is " \
           "declared within 1e-09 relative error in float64" in err
    assert "    6 |   b: {from: a, ops: [{wsconv: [8, 3]}, bn, relu]}" in err
    assert "leave the pass out" in err and "Traceback" not in err
    # without --verify the same pipeline says nothing: the check is what catches it
    assert main(["compile", str(spec), "--mode", "infer", "--passes", "old_fold_bn"]) == 0
    # the environment variable turns the check on for every pipeline, the API's too
    monkeypatch.setenv("LINKC_VERIFY_PASSES", "1")
    with pytest.raises(PassError, match="pass 'old_fold_bn' changed the values"):
        linkc.compile(SPEC, passes=["old_fold_bn"], mode="infer")


def test_an_exact_pass_is_held_to_bit_identity(wrong_passes):
    gm = _randomized(linkc.compile(SPEC))
    with pytest.raises(PassError) as info:
        run_passes(gm, ["swap_inputs"], mode="train", verify=True)
    assert str(info.value).startswith(
        "<spec>:8:3: error: pass 'swap_inputs' changed the values of the network: output 0 "
        "differs by up to ")
    assert "the first value that changed is fx node c (node c, merge:add)'s" in str(info.value)
    assert "declared bit-identical" in str(info.value)


@pytest.mark.parametrize("mode", ["train", "infer"])
def test_the_real_passes_verify(mode, wrong_passes):
    gm = _randomized(linkc.compile(SPEC))
    chosen = [p.name for p in passes.PASSES if mode in p.modes]
    verified = run_passes(copy.deepcopy(gm), chosen, mode=mode, verify=True)
    assert verified.code == run_passes(gm, chosen, mode=mode, verify=False).code
    assert default_passes(mode)  # the defaults are among those verified


# Found by the fuzz campaign's passes target: n4's first BN feeds a second one in
# training, so its bias has no gradient in real arithmetic; what float64 computes for it
# is rounding noise (2.9e-14), which is no change of values
CANCELLING = """linkc: 1
name: fuzz
params:
  k: 3
  widths: [1]
input: [3, 8, 8]
blocks:
  res:
    in: x
    nodes:
      f:
        from: x
        ops:
        - conv: [channels(x), 3]
        - bn
      y:
        from: [x, f]
        merge: add
        ops: [relu]
    out: y
nodes:
  n0:
    from: ['input[2:3]', 'input[1:2]']
    merge: mean
    ops:
    - conv(2, 3, stride=1, groups=1, dilation=1, bias=False)
    - conv: [7, 1]
  n1:
    from: n0
    block: res
    ops: [bn, relu]
  n2:
    from: input
    repeat: widths[0]
    connect: chain
    ops:
    - conv: [3, 3]
    - relu
  n3:
    from: n0
    repeat: 2
    connect: chain
    ops:
    - conv: [4, 3]
    - relu
  n4:
    from: n1
    ops:
    - bn: {eps: 0.001}
    - bn
    - {dropout: 0.5}
  pool0:
    from: n2
    ops: [gap]
  pool1:
    from: n3
    ops: [gap]
  pool2:
    from: n4
    ops: [gap]
  head:
    from: [pool0, pool1, pool2]
    merge: concat
    ops:
    - {linear: 1}
  aux:
    from: n4
    ops: [gap]
outputs: [head, aux]
"""


def test_a_gradient_that_cancels_is_not_a_change():
    from tests.fuzz.oracles import randomize  # the campaign's own weights
    gm = linkc.compile(CANCELLING)
    randomize(gm, seed=len(CANCELLING))
    run_passes(gm, ["channels_last"], mode="train", verify=True)


# Found by the fuzz campaign's passes target (training): merge_chains splices n1's
# concatenation of n0's, so the input's gradient, a sum over its several readers, is
# added up in another order; forward bit for bit, 49 of 100 input-gradient elements 1 ulp
# off (7.45e-09 with the largest element at 0.087)
REORDERED_SUM = """linkc: 1
name: fuzz
params:
  k: 2
  widths: [6, 3, 3]
input: [2, 5, 5]
blocks:
  grow:
    params: {g: 2}
    in: x
    nodes:
      h:
        from: x
        ops:
        - bn
        - relu
        - conv: [g, 3]
    out: h
nodes:
  n0:
    from: input
    block: grow
    repeat: 3
    connect: dense
    merge: concat
    args: {g: 3 + i}
  n1:
    from: [n0, n0.0.h, input]
    merge: concat
    ops: [tanh]
  n2:
    from: input
    repeat: len(widths)
    connect: chain
    ops:
    - conv: [1, 3]
    - relu
  n3_se:
    from: n0.0.h
    ops:
    - gap
    - {linear: 3}
    - sigmoid
  n3:
    from: [n0.0.h, n3_se]
    merge: mul
  pool0:
    from: n1
    ops: [gap]
  pool1:
    from: n2
    ops: [gap]
  pool2:
    from: n3
    ops: [gap]
  head:
    from: [pool0, pool1, pool2]
    merge: concat
    ops:
    - {linear: 3}
output: head
"""


def test_a_reordered_gradient_sum_is_not_a_change():
    from tests.fuzz.oracles import randomize
    gm = linkc.compile(REORDERED_SUM)
    randomize(gm, seed=len(REORDERED_SUM))
    run_passes(gm, ["merge_chains"], mode="train", verify=True)


def test_only_a_gradient_may_differ_by_its_sum_order():
    from linkc.compiler.verify import SUM_ORDER_ULPS, _difference
    expected = torch.tensor([0.5, -0.25, 1.0])
    one_ulp = expected.clone()
    one_ulp[1] = torch.nextafter(one_ulp[1], torch.tensor(1.0))
    assert _difference(one_ulp, expected, None, [expected], summed=True) is None
    assert _difference(one_ulp, expected, None, [expected]).startswith("differs by up to")
    eps = torch.finfo(torch.float32).eps  # of the largest element, 1.0
    off = expected + torch.tensor([0.0, 4 * SUM_ORDER_ULPS * eps, 0.0])
    assert _difference(off, expected, None, [expected], summed=True).startswith("differs")


ONE_PIXEL_BN = """linkc: 1
name: pixel
input: [3, 4, 4]
nodes:
  a: {from: input, ops: [{conv: [8, 3]}, bn, relu]}
  b: {from: a, ops: [{conv: {out: 8, k: 4, stride: 4}}, bn, relu, gap, {linear: 3}]}
output: b
"""


def test_the_probe_gives_each_batch_norm_eight_values_per_channel(wrong_passes):
    """b's BN normalises 1x1 maps: with the 2 samples of the plain probe, float64 rounding
    there is amplified without bound (EfficientNet-B0 at 8x8 passed 1e-9 under pool_first)."""
    from linkc.compiler.verify import _probe_batch
    gm = linkc.compile(ONE_PIXEL_BN)
    assert _probe_batch(gm, "train") == 8
    assert _probe_batch(gm, "infer") == 2  # running statistics: one sample is enough
    assert _probe_batch(linkc.compile(SPEC), "train") == 2  # 8x8 maps
