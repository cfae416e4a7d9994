"""Every read of a spec is capped by reading at most the cap plus one byte, whatever the
file is: a FIFO or /dev/zero has no size to check beforehand. Each read runs in a child
with a timeout and a memory ceiling, so a regression fails instead of hanging the suite
or exhausting the machine's memory."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = b"linkc: 1\nname: piped\ninput: [3, 8, 8]\nnodes:\n  a: {from: input, ops: [relu]}\n" \
       b"output: a\n"


def _memory_ceiling() -> None:
    limit = 1 << 30  # far above a capped read, far below reading /dev/zero whole
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _check(path: Path | str, *limit: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "linkc", "--no-plugins", "check", str(path),
                           *limit], check=False, env=env, capture_output=True, text=True,
                          timeout=60, preexec_fn=_memory_ceiling)


def _feed(fifo: Path, data: bytes, forever: bool) -> threading.Thread:
    """Write `data` into `fifo` (once, or again and again until the reader closes it)."""
    def write() -> None:
        try:
            with open(fifo, "wb") as f:
                f.write(data)
                while forever:
                    f.write(data)
        except (BrokenPipeError, OSError):
            pass  # the reader stopped reading: what a capped read does

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _release(fifo: Path, thread: threading.Thread) -> None:
    """Unblock a writer whose reader never came (a child that failed before opening)."""
    if thread.is_alive():
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        os.close(fd)
    thread.join(timeout=10)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused_after_the_cap():
    proc = _check("/dev/zero")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith("error: spec '/dev/zero' gives more bytes, over the "
                                  "1048576-byte limit")
    assert "Traceback" not in proc.stderr


def test_an_endless_fifo_is_refused_after_the_cap(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    writer = _feed(fifo, b"#" * 65536, forever=True)
    try:
        proc = _check(fifo, "--limit", "max_bytes=100000")
    finally:
        _release(fifo, writer)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith(f"error: spec '{fifo}' gives more bytes, over the "
                                  "100000-byte limit")


def test_a_spec_piped_through_a_fifo_is_read(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    writer = _feed(fifo, SPEC, forever=False)
    try:
        proc = _check(fifo)
    finally:
        _release(fifo, writer)
    assert proc.returncode == 0, proc.stderr
    assert "piped" in proc.stdout


def test_a_regular_file_over_the_cap_names_its_size(tmp_path):
    from linkc.spec.load import LoadLimits, SpecError, load

    big = tmp_path / "big.yaml"
    big.write_bytes(SPEC + b"#" * 200)
    with pytest.raises(SpecError, match=rf"spec '{big}' is {len(SPEC) + 200} bytes, over the "
                                        r"100-byte limit"):
        load(big, LoadLimits(max_bytes=100))
