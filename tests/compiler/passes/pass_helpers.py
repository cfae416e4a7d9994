"""Shared helpers for the pass tests: small zoo specs, unfused vs fused comparisons."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import torch

import linkc
from linkc.compiler.passes import run_passes



SPECS = Path(__file__).resolve().parents[3] / "specs"


def small_spec(name: str, size: int = 8) -> str:
    """A zoo spec's YAML text with its input shrunk to size x size."""
    text = (SPECS / f"{name}.yaml").read_text()
    return re.sub(r"^input: \[(\d+), \d+, \d+\]", rf"input: [\1, {size}, {size}]", text,
                  count=1, flags=re.M)


def randomize_bn_stats(gm: torch.nn.Module) -> None:
    """Non-trivial running statistics, so that folding them is really tested."""
    gen = torch.Generator().manual_seed(1)
    for m in gm.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def fused_pair(spec: str, passes: list[str], mode: str = "train"):
    """(unfused, fused) GraphModules with the same weights."""
    torch.manual_seed(0)
    plain = linkc.compile(spec)
    randomize_bn_stats(plain)
    fused = run_passes(copy.deepcopy(plain), passes, mode=mode)
    return plain, fused


def batch(gm, n: int = 2) -> torch.Tensor:
    shape = gm.meta["linkc"]["input_shape"]
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(2))


def assert_outputs_match(plain, fused, atol=1e-5, rtol=1e-4) -> None:
    plain.eval()
    fused.eval()
    x = batch(plain)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), plain(x), atol=atol, rtol=rtol)


def assert_training_matches(plain, fused, grads_of, atol=1e-5, rtol=1e-4) -> None:
    """Training-mode outputs and input/parameter gradients match. `grads_of` maps a
    parameter name of the fused module to the name (or tensor-combining function)
    of the unfused one's. Gradients are judged against an fp64 copy of the unfused
    module (see assert_grad_close)."""
    exact = copy.deepcopy(plain).double().train()
    plain.train()
    fused.train()
    x = batch(plain)
    xs = [x.clone().requires_grad_(True) for _ in range(2)]
    x64 = x.double().requires_grad_(True)
    outs = [plain(xs[0]), fused(xs[1])]
    torch.testing.assert_close(outs[1], outs[0], atol=atol, rtol=rtol)
    weight = torch.randn(outs[0].shape, generator=torch.Generator().manual_seed(3))
    for out in outs:
        (out * weight).sum().backward()
    (exact(x64) * weight.double()).sum().backward()
    assert_grad_close(xs[1].grad, xs[0].grad, "input", exact=x64.grad)
    plain_params = dict(plain.named_parameters())
    exact_params = dict(exact.named_parameters())
    checked = 0
    for name, p in fused.named_parameters():
        assert_grad_close(p.grad, grads_of(name, plain_params), name,
                          exact=grads_of(name, exact_params))
        checked += 1
    assert checked == len(list(fused.parameters())) > 0


def assert_grad_close(got, expected, what: str, tol: float = 1e-4, exact=None) -> None:
    """Gradients through 100+ layers accumulate fp32 rounding differently when a pass
    changes the kernels (grouped or NHWC convolutions), so compare them as vectors:
    relative error of the norm, plus a loose elementwise bound.

    With `exact` (the unfused module's gradient in fp64), the pass's gradient must be
    within 4x the unfused fp32 gradient's own error of it: with training-mode BN over
    a batch of 2 through 100 layers, both fp32 gradients are off by up to 4e-3 (one
    thread), so comparing them with each other would test the rounding, not the pass.
    A wrong rewrite is off by order 1."""
    assert got.shape == expected.shape, what
    if exact is not None:
        exact = exact.double()
        scale = exact.norm().clamp_min(1e-12)
        own = (expected.double() - exact).norm() / scale
        err = (got.double() - exact).norm() / scale
        assert err <= 4 * own + tol / 10, \
            f"{what}: relative gradient error {err:.2e} (the unfused module's: {own:.2e})"
        return
    err = (got - expected).norm() / expected.norm().clamp_min(1e-12)
    assert err < tol, f"{what}: relative gradient error {err:.2e}"
    torch.testing.assert_close(got, expected, atol=1e-3 * expected.abs().max().item() + 1e-6,
                               rtol=1e-2, msg=what)


def same_names(name, plain_params):
    return plain_params[name].grad


def code_of(gm) -> str:
    return gm.code
