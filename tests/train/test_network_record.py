"""A run holds one network: a checkpoint records the expanded graph it trains, --resume
with another graph is exit 2 naming the first difference, before anything in the run
directory is written; checkpoints from before the record still resume."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
from train_fixtures import PLAIN_SPEC, SMALL_SPEC

from linkc.cli import main
from linkc.frontend import build
from linkc.train.checkpoint import read_checkpoint
from linkc.train.network import first_difference, network_record

FIXTURES = Path(__file__).parent / "fixtures"
FLAGS = ["--data", "synthetic", "--synthetic-size", "32", "--batch-size", "16", "--epochs", "1",
         "--threads", "1", "--no-plot", "--no-tensorboard", "--no-progress"]
GELU_SPEC = SMALL_SPEC.replace("bn, relu]}\n  b", "bn, gelu]}\n  b")


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def trained(tmp_path):
    """A finished one-epoch run of SMALL_SPEC: (spec file, run directory)."""
    spec, run = tmp_path / "small.yaml", tmp_path / "run"
    spec.write_text(SMALL_SPEC)
    assert main(["train", str(spec), *FLAGS, "--run-dir", str(run)]) == 0
    return spec, run


def test_resume_with_another_activation_is_refused_and_the_run_is_untouched(trained, capsys):
    spec, run = trained
    before = _snapshot(run)
    spec.write_text(GELU_SPEC)  # the same weights under the same names: only the graph differs
    capsys.readouterr()
    assert main(["train", str(spec), *FLAGS, "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"checkpoint '{run / 'last.safetensors'}' was trained as another network than "
        "spec 'small': node 'a': ops [conv(8), bn, relu] in the checkpoint, [conv(8), bn, gelu] "
        "now. A run holds one network: train this spec in a new run directory (leave out "
        "--resume, or give another --run-dir), or resume with the spec the run was started "
        f"with (its text is {run / 'spec.yaml'}).\n")
    assert _snapshot(run) == before  # spec.yaml, model.py, metrics: not one byte rewritten


def test_resume_with_another_input_size_is_refused(trained, capsys):
    """Convolutions and a global pool take any size: the weights fit, the network differs."""
    spec, run = trained
    spec.write_text(SMALL_SPEC.replace("[3, 8, 8]", "[3, 12, 12]"))
    assert main(["train", str(spec), *FLAGS, "--resume", str(run)]) == 2
    assert ("its inputs and outputs were {input: [3, 8, 8], output: head}, now "
            "{input: [3, 12, 12], output: head}.") in capsys.readouterr().err


def test_the_same_graph_resumes_whatever_the_spec_is_called(trained, capsys):
    spec, run = trained
    spec.write_text(SMALL_SPEC.replace("name: small", "name: renamed"))
    assert main(["train", str(spec), *FLAGS, "--resume", str(run)]) == 0
    assert "renamed: test accuracy" in capsys.readouterr().out
    state = read_checkpoint(run / "last.safetensors").state
    assert state["network"]["digest"] == network_record(build(SMALL_SPEC))["digest"]


def test_a_checkpoint_without_a_record_resumes_and_its_next_one_has_it(tmp_path, capsys):
    # plain_step6_v1.safetensors was written by the loop before checkpoints kept a record
    legacy = FIXTURES / "plain_step6_v1.safetensors"
    assert "network" not in read_checkpoint(legacy).state
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(legacy, run / "last.safetensors")
    spec = tmp_path / "plain.yaml"
    spec.write_text(PLAIN_SPEC)
    assert main(["train", str(spec), "--data", "synthetic", "--synthetic-size", "64",
                 "--epochs", "2", "--batch-size", "16", "--augment", "--lr", "0.05",
                 "--seed", "3", "--threads", "1", "--no-progress", "--no-plot",
                 "--no-tensorboard", "--resume", str(run)]) == 0
    state = read_checkpoint(run / "last.safetensors").state
    assert state["position"]["step"] == 8
    assert state["network"] == network_record(build(PLAIN_SPEC))


def test_the_first_difference_is_named_node_by_node_then_plugins():
    base = network_record(build(SMALL_SPEC))
    wider = network_record(build(SMALL_SPEC.replace("linear: 10", "linear: 12")))
    assert first_difference(base, wider) == \
        "node 'head': ops [gap, dropout(0.1), linear(10)] in the checkpoint, " \
        "[gap, dropout(0.1), linear(12)] now"
    concat = network_record(build(SMALL_SPEC.replace("merge: add", "merge: concat")))
    assert first_difference(base, concat) == "node 's': merge add in the checkpoint, concat now"
    fewer = copy.deepcopy(base)
    fewer["nodes"]["extra"] = fewer["nodes"]["head"]
    assert first_difference(fewer, base) == "node 'extra' is gone"
    assert first_difference(base, fewer) == "node 'extra' is new"
    upgraded = copy.deepcopy(base)
    upgraded["plugins"] = {"linkc-plugin-example": "0.1.0"}
    assert first_difference(upgraded, base) == \
        "plugin 'linkc-plugin-example' was version 0.1.0, now absent"
