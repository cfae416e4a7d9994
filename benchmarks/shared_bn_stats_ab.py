"""Interleaved A/B, DenseNet-BC-100 training step: each BN's batch statistics computed per
consumer (the network as written) or once per stored feature and shared.

In training a BN normalises with the batch's per-channel mean and variance. In a dense
block every layer's BN reads the concatenation of all earlier features, and the
statistics of a channel are those of the feature it comes from, whichever layer reads
it: they can be computed once, when the feature is made, and concatenated for each
reader (exact in real arithmetic: fp64 gradients agree to ~1e-14). Each reader still
applies its own affine map and ReLU, so the normalised tensor itself is not shared; and
in inference BN is a per-reader affine map before a ReLU, so nothing is shared there.

    python benchmarks/shared_bn_stats_ab.py [ROUNDS] [--eager]
        (batch 32, channels_last, torch.compile unless --eager; hand-written module)
"""
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from linkc.bench.timing import interleaved
from linkc.references.densenet import DenseBlock, densenet_bc


def feature_stats(f):
    """The per-channel batch mean and (biased) variance of one stored feature."""
    var, mean = torch.var_mean(f, dim=(0, 2, 3), correction=0)
    return mean, var


def bn_with(bn, x, mean, var):
    """bn(x) in training, with the batch statistics given instead of computed from x."""
    if not bn.training:
        return bn(x)
    n = x.numel() // x.shape[1]
    with torch.no_grad():  # the running statistics update exactly as BatchNorm2d's
        bn.running_mean.lerp_(mean, bn.momentum)
        bn.running_var.lerp_(var * (n / (n - 1)), bn.momentum)
        bn.num_batches_tracked.add_(1)
    scale = bn.weight * torch.rsqrt(var + bn.eps)
    shift = bn.bias - mean * scale
    return x * scale[None, :, None, None] + shift[None, :, None, None]


class SharedStatsBlock(DenseBlock):
    def forward(self, x):
        feats, (mean, var) = [x], feature_stats(x)
        means, variances = [mean], [var]
        for layer in self.layers:
            h = bn_with(layer.bn1, torch.cat(feats, 1), torch.cat(means), torch.cat(variances))
            h = layer.conv2(F.relu(layer.bn2(layer.conv1(F.relu(h)))))
            feats.append(h)
            mean, var = feature_stats(h)
            means.append(mean)
            variances.append(var)
        return torch.cat(feats, 1)


def make(shared):
    torch.manual_seed(0)
    model = densenet_bc(100, 12, 10)
    if shared:
        for block in model.modules():
            if type(block) is DenseBlock:
                block.__class__ = SharedStatsBlock  # same parameters, other forward
    return model


def step_fn(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def main(argv):
    compiled = "--eager" not in argv
    reps = next((int(a) for a in argv if a.isdigit()), 7)
    torch.set_num_threads(2)
    torch.manual_seed(1)
    x = torch.randn(32, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (32,))
    a, b = make(False), make(True)
    loss_a, loss_b = F.cross_entropy(a(x), y), F.cross_entropy(b(x), y)
    loss_a.backward()
    loss_b.backward()
    grad = max(((p.grad - q.grad).norm() / p.grad.norm().clamp_min(1e-30)).item()
               for p, q in zip(a.parameters(), b.parameters()))
    running = max((p - q).abs().max().item() for p, q in zip(a.buffers(), b.buffers())
                  if p.is_floating_point())
    print(f"fp32 one step: loss diff {abs(loss_a.item() - loss_b.item()):.3g}, worst relative "
          f"L2 gradient diff {grad:.3g}, running statistics diff {running:.3g}", flush=True)
    steps = {}
    for name, shared in (("per_consumer", False), ("shared", True)):
        model = make(shared).to(memory_format=torch.channels_last).train()
        step = step_fn(torch.compile(model, dynamic=False) if compiled else model, x, y)
        start = time.perf_counter()
        step()
        step()
        print(f"{name}: first two steps (compile) {time.perf_counter() - start:.1f} s", flush=True)
        steps[name] = step
    times = interleaved(steps, reps, torch.device("cpu"))
    ratios = [a / b for a, b in zip(times["per_consumer"], times["shared"])]
    print("median s/step", {k: round(statistics.median(v), 4) for k, v in times.items()})
    print(f"speed-up shared / per consumer: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}) over {reps} rounds")


if __name__ == "__main__":
    main(sys.argv[1:])
