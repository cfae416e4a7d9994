"""The in-place merge functions: bit for bit the out-of-place ones, in the storage of
the input they are given, and the out-of-place function wherever that could differ."""

from __future__ import annotations

import pytest
import torch

from linkc.compiler import functional as F

WEIGHTS = [(1, 1), (1, -1), (0.5, 1), (1, 0.3), (-1, 1), (2, -1), (0.7, -0.2, 1, -1)]


def _inputs(n, channels_last=False, widths=None, seed=0):
    gen = torch.Generator().manual_seed(seed)
    xs = [torch.randn(3, c, 5, 7, generator=gen) * 10 ** torch.randint(-3, 4, (1,), generator=gen)
          for c in (widths or [6] * n)]
    return [x.contiguous(memory_format=torch.channels_last) if channels_last else x for x in xs]


def _check(plain, inplace, xs, into, **kwargs):
    want = plain(*[x.clone() for x in xs], **kwargs)
    mine = [x.clone() for x in xs]
    target = mine[into].data_ptr()
    got = inplace(*mine, **kwargs, into=into)
    assert torch.equal(got, want)
    assert got.stride() == want.stride()
    assert got.data_ptr() == target  # the result is in the input's storage


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("into", [0, 1])
@pytest.mark.parametrize("n", [2, 3, 4])
def test_add_and_mean_in_place_are_bit_identical(n, into, channels_last):
    xs = _inputs(n, channels_last, seed=n)
    _check(F.add, F.add_into, xs, into)
    _check(F.mean, F.mean_into, xs, into)


@pytest.mark.parametrize("into", [0, 1])
@pytest.mark.parametrize("weights", WEIGHTS)
def test_wsum_in_place_is_bit_identical(weights, into):
    xs = _inputs(len(weights), seed=len(weights))
    _check(F.wsum, F.wsum_into, xs, into, weights=weights)


@pytest.mark.parametrize("into", [0, 1])
def test_padded_forms_in_place_are_bit_identical(into):
    widths = [4, 8, 6] if into == 1 else [8, 4, 6]  # xs[into] has the result's channels
    xs = _inputs(3, widths=widths)
    _check(F.add_padded, F.add_padded_into, xs, into)
    _check(F.mean_padded, F.mean_padded_into, xs, into)
    _check(F.wsum_padded, F.wsum_padded_into, xs, into, weights=(1, -0.5, 2))


def _falls_back(xs, into=0) -> bool:
    """Whether add_into left xs[into] alone (and computed add's result either way)."""
    before, want = xs[into].clone(), F.add(*xs)
    got = F.add_into(*xs, into=into)
    assert torch.equal(got, want) and got.stride() == want.stride()
    return got.data_ptr() != xs[into].data_ptr() and torch.equal(xs[into], before)


def test_other_layouts_dtypes_and_autograd_fall_back():
    a, b = _inputs(2)
    assert _falls_back([a.contiguous(memory_format=torch.channels_last), b])  # mixed layouts
    assert _falls_back([a[:, :4], b[:, :4]])  # views with a channel stride
    assert _falls_back([a.double(), b])  # the sum would be float64
    wide = torch.randn(3, 6, 1, 1)
    odd = torch.empty(3, 6, 1, 1, memory_format=torch.channels_last).copy_(wide)
    assert odd.stride() != wide.stride()  # the same memory order, other strides
    assert _falls_back([odd, torch.randn(3, 6, 1, 1)])
    assert not _falls_back([wide, odd])  # the sum gets wide's strides: written in place
    w = torch.randn(3, 6, 5, 7, requires_grad=True)
    assert _falls_back([w * 1, b])  # a recorded graph
    with torch.no_grad():
        assert not _falls_back([w * 1, b])
