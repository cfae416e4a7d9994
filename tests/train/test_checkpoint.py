"""Checkpoints: safetensors + JSON state round-trip; corrupt, truncated and mismatched
files are CheckpointErrors that say what is wrong; writes are atomic."""

from __future__ import annotations

import hashlib
import json
import random

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from linkc.cli import main
from linkc.train.checkpoint import (CheckpointError, capture_rng, read_checkpoint,
                                      read_weights, restore_rng, save_checkpoint)
from linkc.train.config import resolve_config
from linkc.train.train import train
from train_fixtures import PLAIN_SPEC, SMALL_SPEC


def _optimizer():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    return model, opt


def test_roundtrip(tmp_path):
    model, opt = _optimizer()
    rng_doc, rng_tensors = capture_rng()
    path = save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), opt.state_dict(),
                           {"step": 7, "rng": rng_doc}, rng_tensors)
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temp file left
    back = read_checkpoint(path)
    assert back.state["step"] == 7
    assert all(torch.equal(back.model[k], v) for k, v in model.state_dict().items())
    model2, opt2 = _optimizer()
    opt2.load_state_dict(back.optimizer)
    for a, b in zip(opt.state.values(), opt2.state.values()):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    assert opt2.param_groups[0]["nesterov"] is True
    assert torch.equal(read_weights(path)["weight"], model.weight)


def test_rng_states_restore_exactly():
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    doc, tensors = capture_rng()
    json.dumps(doc)  # the JSON part really is JSON
    first = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng(doc, tensors)
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert first[2] == second[2]


@pytest.fixture
def saved(tmp_path):
    model, opt = _optimizer()
    return save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), opt.state_dict(),
                           {"step": 1})


def test_truncated(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) - 10])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_checkpoint(saved)


def test_garbage(saved):
    saved.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        read_checkpoint(saved)


def test_flipped_byte_fails_the_digest(saved):
    data = bytearray(saved.read_bytes())
    data[-3] ^= 0xFF  # inside the last tensor's data
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match the digest"):
        read_checkpoint(saved)


def test_missing_and_plain_weights(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(CheckpointError, match="not a linkc training checkpoint"):
        read_checkpoint(tmp_path / "w.safetensors")
    assert list(read_weights(tmp_path / "w.safetensors")) == ["w"]


def _config(run_dir, **values):
    return resolve_config([("test", {"threads": 1, "progress": False, "data": "synthetic",
                                     "synthetic_size": 32, "batch_size": 16, "epochs": 1,
                                     "run_dir": str(run_dir), **values})])


def test_resume_with_another_spec_names_the_tensors(tmp_path):
    train(SMALL_SPEC, _config(tmp_path / "run"))
    other = SMALL_SPEC.replace("name: small", "name: wider").replace("{conv: [8, 3]}, bn, relu]}\n  s",
                                                                     "{conv: [16, 3]}, bn, relu]}\n  s")
    other = other.replace("merge: add", "merge: concat")
    with pytest.raises(CheckpointError, match="node 'b': ops \\[conv\\(8\\), bn, relu\\] in the "
                                              "checkpoint, \\[conv\\(16\\), bn, relu\\] now"):
        train(other, _config(tmp_path / "run"), resume=str(tmp_path / "run"))
    # a checkpoint from before the network record is checked by its tensors
    last = tmp_path / "run" / "last.safetensors"
    with safe_open(str(last), framework="pt") as f:
        doc = json.loads(f.metadata()["linkc_checkpoint"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    del doc["state"]["network"]
    save_file(tensors, str(last), metadata={"linkc_checkpoint": json.dumps(doc)})
    with pytest.raises(CheckpointError) as err:
        train(other, _config(tmp_path / "run"), resume=str(tmp_path / "run"))
    msg = str(err.value)
    assert "does not match spec 'wider'" in msg and "b.conv1.weight" in msg
    assert "(16, 8, 3, 3) vs" in msg or "vs (16, 8, 3, 3)" in msg
    assert (tmp_path / "run" / "spec.yaml").read_text() == SMALL_SPEC  # the run is untouched


def test_resume_with_other_settings_names_them(tmp_path):
    train(SMALL_SPEC, _config(tmp_path / "run"))
    with pytest.raises(CheckpointError, match=r"lr: 0.1 in the checkpoint, 0.5 now"):
        train(SMALL_SPEC, _config(tmp_path / "run", lr=0.5), resume=True)


def test_fresh_run_refuses_to_overwrite_a_run(tmp_path, capsys):
    train(SMALL_SPEC, _config(tmp_path / "run"))
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL_SPEC)
    assert main(["train", str(spec), "--run-dir", str(tmp_path / "run")]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_cli_corrupt_checkpoint_and_mismatched_weights_are_exit_2(tmp_path, capsys):
    result = train(SMALL_SPEC, _config(tmp_path / "run"))
    last = tmp_path / "run" / "last.safetensors"
    last.write_bytes(last.read_bytes()[:100])
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL_SPEC)
    base = ["--data", "synthetic", "--synthetic-size", "32", "--batch-size", "16",
            "--epochs", "1", "--threads", "1"]
    assert main(["train", str(spec), *base, "--resume", str(tmp_path / "run")]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err
    plain = tmp_path / "plain.yaml"
    plain.write_text(PLAIN_SPEC)
    assert main(["evaluate", str(plain), "--weights", str(result.weights)]) == 2
    err = capsys.readouterr().err
    assert "does not match spec 'plain'" in err and "Traceback" not in err
    assert main(["train", str(spec), *base, "--resume", str(tmp_path / "nowhere")]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_the_digest_hashes_tensors_where_they_lie():
    import tracemalloc

    from linkc.train.checkpoint import _digest

    tensors = {"big": torch.arange(4 << 20, dtype=torch.float32), "half": torch.ones(3, dtype=torch.bfloat16),
               "scalar": torch.tensor(2.0)}
    expected = hashlib.sha256()
    for key in sorted(tensors):  # an independent reading of the format's digest
        t = tensors[key]
        expected.update(key.encode() + str(t.dtype).encode() + str(tuple(t.shape)).encode())
        expected.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())  # a copy
    tracemalloc.start()
    try:
        got = _digest(tensors)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == expected.hexdigest()
    assert peak < (1 << 20), f"hashing 16 MiB of tensors allocated {peak} bytes"


def test_the_directory_is_synced_after_the_rename(tmp_path, monkeypatch):
    import os
    import stat

    synced = []
    real = os.fsync

    def spy(fd):
        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), (tmp_path / "c.safetensors").exists()))
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    model, opt = _optimizer()
    save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), opt.state_dict(), {})
    # the temporary file's data before the rename, then the folder's entry after it
    assert synced == [(False, False), (True, True)]
