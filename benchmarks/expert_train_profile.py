"""Where the expert's training step goes, by kind of op: the same profile as
`linkc bench --profile --mode train`, of a hand-written reference module with
channels_last + torch.compile (the bench's (2)).

    python benchmarks/expert_train_profile.py densenet-bc-100|resnet-110|dmrnet-56
"""
import sys

import torch

from linkc.bench.profile import CATEGORIES, _profiled
from linkc.bench.refs import reference_factory
from linkc.bench.timing import train_step


def main(reference: str, batch: int = 32, reps: int = 3) -> None:
    torch.set_num_threads(2)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    torch.manual_seed(0)
    model = reference_factory(reference)().to(memory_format=torch.channels_last).train()
    with torch._inductor.config.patch({"cpp.enable_kernel_profile": True}):
        step = train_step(torch.compile(model, dynamic=False),
                          x.contiguous(memory_format=torch.channels_last), y)
        step()  # compiles
        step()
    ms = _profiled(step, reps)
    total = sum(ms.values())
    for kind in CATEGORIES:
        if ms.get(kind):
            print(f"{kind:16} {ms[kind]:8.1f} ms ({ms[kind] / total:.1%})")
    print(f"{'profiled total':16} {total:8.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1])
