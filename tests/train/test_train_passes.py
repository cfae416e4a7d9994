"""linkc train --passes / --memory-efficient / --amp: passes in training keep the math and
the spec's weights; unknown passes are exit 2; CPU bf16 autocast runs where the CPU has it."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from linkc.cli import main
from linkc.train.model_setup import cpu_bf16_supported

# A dense block with 1x1 bottlenecks (what checkpoint_dense rewrites) and a transition.
DENSE_SPEC = """\
linkc: 1
name: tinydense
input: [1, 8, 8]
blocks:
  layer:
    in: x
    nodes:
      h: {from: x, ops: [bn, relu, {conv: [8, 1]}, bn, relu, {conv: [4, 3]}]}
    out: h
nodes:
  stem: {from: input, ops: [{conv: [8, 3]}]}
  d1:   {from: stem, repeat: 3, block: layer, connect: dense}
  t1:   {from: d1, ops: [bn, relu, {conv: [8, 1]}, {avgpool: 2}]}
  head: {from: t1, ops: [bn, relu, gap, {linear: 10}]}
output: head
"""

COMMON = ["--data", "synthetic", "--synthetic-size", "96", "--epochs", "1", "--batch-size",
          "16", "--threads", "1", "--no-progress", "--no-plot", "--no-tensorboard"]


def _train(write_spec, tmp_path, name, *flags):
    spec = write_spec(DENSE_SPEC, "tinydense.yaml")
    run = tmp_path / name
    rc = main(["train", str(spec), *COMMON, "--run-dir", str(run), *flags])
    assert rc == 0
    losses = [json.loads(line)["loss"] for line in (run / "steps.jsonl").read_text().splitlines()]
    return losses, load_file(run / "weights.safetensors")


def test_checkpoint_dense_in_training_matches_the_plain_run(write_spec, tmp_path):
    plain, plain_weights = _train(write_spec, tmp_path, "plain")
    assert len(plain) == 6
    for name, flags in (("passes", ["--passes", "merge_nary,checkpoint_dense"]),
                        ("efficient", ["--memory-efficient"])):
        losses, weights = _train(write_spec, tmp_path, name, *flags)
        # the recompute is exact in fp32: the same trajectory up to summation order
        assert losses == pytest.approx(plain, rel=1e-4, abs=1e-5), name
        # the trained weights are written under the spec's own names, BN statistics included
        assert weights.keys() == plain_weights.keys()
        for key, value in plain_weights.items():
            torch.testing.assert_close(weights[key], value, rtol=1e-3, atol=1e-4, msg=key)


def test_passes_from_the_spec_and_config_are_recorded(write_spec, tmp_path):
    spec = write_spec(DENSE_SPEC + "train: {passes: [checkpoint_dense]}\n", "tinydense.yaml")
    run = tmp_path / "run"
    assert main(["train", str(spec), *COMMON, "--run-dir", str(run)]) == 0
    assert "passes:\n- checkpoint_dense" in (run / "config.yaml").read_text()


@pytest.mark.parametrize("flags, said", [
    ([], "; passes drop_identity, pool_first, dense_chain, channels_last; run directory"),
    (["--memory-efficient"],
     "; passes drop_identity, pool_first, checkpoint_dense, dense_chain, channels_last; run "
     "directory"),
    (["--passes", "none"], "; passes none; run directory"),
    (["--no-channels-last", "--memory-efficient"],
     "; passes drop_identity, pool_first, checkpoint_dense, dense_chain; run directory"),
])
def test_a_run_says_which_passes_it_applies(write_spec, tmp_path, capsys, flags, said):
    spec = write_spec(DENSE_SPEC, "tinydense.yaml")
    assert main(["train", str(spec), *COMMON, "--run-dir", str(tmp_path / "run"), *flags]) == 0
    assert said in capsys.readouterr().out


@pytest.mark.parametrize("flags, message", [
    (["--passes", "checkpoint_dens"],
     "training setting passes: unknown pass 'checkpoint_dens' (did you mean "
     "'checkpoint_dense'?)"),
    (["--passes", "fold_bn"], "pass 'fold_bn' is not valid in train mode (valid in: infer; "
                              "the train-mode passes: channels_last, checkpoint_dense, "
                              "dense_buffer, dense_chain, drop_identity, merge_chains, "
                              "merge_nary, pool_first)"),
    (["--passes", "inplace_merge"], "pass 'inplace_merge' is not valid in train mode"),
    (["--passes", "group_parallel"], "pass 'group_parallel' makes new weights"),
])
def test_unknown_or_inference_pass_is_exit_2(write_spec, tmp_path, capsys, flags, message):
    spec = write_spec(DENSE_SPEC, "tinydense.yaml")
    rc = main(["train", str(spec), *COMMON, "--run-dir", str(tmp_path / "run"), *flags])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_cpu_bf16_amp_run_completes(tmp_path, write_spec, capsys, monkeypatch):
    if not cpu_bf16_supported():  # the fp32 fallback is the next test's
        pytest.skip("this CPU has no bf16 instructions")
    seen = []
    real = torch.autocast

    def spy(device_type, *args, **kwargs):
        seen.append((device_type, kwargs.get("dtype"), kwargs.get("enabled", True)))
        return real(device_type, *args, **kwargs)
    monkeypatch.setattr(torch, "autocast", spy)
    spec = write_spec(DENSE_SPEC, "tinydense.yaml")
    run = tmp_path / "run"
    rc = main(["train", str(spec), "--data", "digits", "--epochs", "1", "--batch-size", "64",
               "--threads", "1", "--no-progress", "--no-plot", "--no-tensorboard",
               "--run-dir", str(run), "--amp", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 0 and "Traceback" not in err
    epoch = json.loads((run / "epochs.jsonl").read_text().splitlines()[0])
    assert epoch["train_loss"] == epoch["train_loss"] and epoch["test_acc"] > 0.1  # finite, learns
    assert "no bf16 instructions" not in err
    assert seen and all(s == ("cpu", torch.bfloat16, True) for s in seen)
    assert f"dense_chain, channels_last; bf16 autocast; run directory {run}" in out


def test_amp_on_a_cpu_without_bf16_says_so_and_trains_fp32(tmp_path, write_spec, capsys,
                                                          monkeypatch):
    monkeypatch.setattr("linkc.train.model_setup.cpu_bf16_supported", lambda: False)
    spec = write_spec(DENSE_SPEC, "tinydense.yaml")
    rc = main(["train", str(spec), *COMMON, "--run-dir", str(tmp_path / "run"), "--amp",
               "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert err.count("--amp: this CPU has no bf16 instructions (avx512_bf16/amx_bf16); "
                     "training in fp32.") == 1
    assert "autocast" not in out
