"""`linkc bench`: a compiled spec against the hand-written PyTorch module of the same net.

The variants, one process, the same input batch for all:

1. ``reference``      the hand-written eager module (linkc/references/, the user's
                      own: ``--reference MODULE:CALLABLE``, or ``--reference lowered``:
                      linkc's own module without passes, for specs with no hand-written one)
2. ``expert``         the same module, channels_last + torch.compile
3. ``linkc``          linkc without passes
4. ``linkc_passes``   linkc with the mode's default passes
5. ``linkc_compiled`` linkc with the default passes + linkc's compile stage

6. ``onnxruntime``    (``--onnx``, inference only) linkc's ONNX export of (4) run by
                      ONNX Runtime with torch's thread count
7. ``openvino``       (``--openvino``, inference only) the same export in OpenVINO's
                      CPU plugin, its precision pinned to f32
5a, 5o, 5r            (``--backend auto,openvino,onnxruntime``) (4) through
                      ``linkc.optimize`` with that backend (inference only)
2b, 5b, 7b, 5ab, ...  (``--amp``) (2) and (5) under bf16 autocast (1b and 4b with
                      ``--no-compile``), OpenVINO's bf16 hint, linkc.optimize's bf16;
                      where the CPU has no bf16 instructions, one line says so and
                      they are skipped

Every row reports its precision and, per mode, the median per-round ratio to the
fastest anchor of that precision (fp32: the expert, ONNX Runtime, OpenVINO; bf16: the
expert under autocast, OpenVINO's bf16).

For each: inference images/s (no_grad) and training-step images/s (forward,
cross-entropy, backward, SGD step; forward and loss under autocast for the bf16
twins). The timing is interleaved: every variant is built first, and each of
``reps`` rounds times every variant once (inference rounds, then training rounds),
so a noisy neighbour slows all variants of a round alike; each call follows a short
idle gap (timing.SETTLE), so no variant runs while the previous one's threads spin.
Reported per variant: median / min / max over the rounds, and against (1), (2), (2b)
and (6) the median of the per-round ratios with their min and max; a variant whose
own spread is over 25% is named in the warnings. Compile time (the first call of a
compiled module, minus one median call) is reported on its own and never enters
throughput; peak memory of one fp32 training step (linkc.bench.memory).

Modules: refs (which reference), variants (building them), timing (calls, rounds,
ratios), memory, report (ratios and the table), run (`bench()`), profile (`linkc
bench --profile`: where the time of one inference call goes, per kind of op).
"""

from .memory import _release_freed_memory_eagerly, peak_step_memory_mb
from .refs import BenchError, match_reference, reference_factory
from .report import format_table
from .run import NOISY, bench
from .timing import infer_call, train_step
from .variants import VARIANTS

__all__ = ["NOISY", "VARIANTS", "BenchError", "bench", "format_table", "infer_call",
           "match_reference", "peak_step_memory_mb", "reference_factory", "train_step",
           "_release_freed_memory_eagerly"]
