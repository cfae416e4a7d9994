"""The CUDA paths: every test module here is marked `cuda` and skipped without a GPU.

CI has no GPU, so these run where one is lent: `benchmarks/gpu_check.sh` runs them
(`python -m pytest -m cuda tests/cuda`) beside the GPU benchmarks.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def exact_fp32():
    """fp32 convolutions and matmuls without TF32, so a GPU result can be held to the
    CPU's within float noise; restored afterwards."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
