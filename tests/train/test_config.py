"""TrainConfig: sources merge spec < --config < flags; unknown keys and bad values are
ConfigErrors that name the source and suggest the nearest key."""

from __future__ import annotations

import pytest

from linkc.cli import main
from linkc.commands import train as train_cmd
from linkc.train.config import ConfigError, TrainConfig, load_config_file, resolve_config


def test_defaults_follow_the_seeds():
    c = TrainConfig()
    assert (c.momentum, c.nesterov, c.weight_decay, c.label_smoothing) == (0.9, True, 1e-4, 0.0)
    assert c.data == "digits" and c.device == "auto" and c.warmup_epochs > 0


def test_later_sources_win():
    c = resolve_config([("spec", {"epochs": 3, "lr": 0.5, "seed": 7}),
                        ("file", {"lr": 0.2, "batch_size": 32}),
                        ("flags", {"lr": "0.05"})])
    assert (c.epochs, c.lr, c.seed, c.batch_size) == (3, 0.05, 7, 32)


@pytest.mark.parametrize("source", [0, 1, 2])
def test_unknown_key_names_source_and_suggests(source):
    sources = [("spec.yaml train:", {}), ("--config c.yaml", {}), ("the command line", {})]
    sources[source] = (sources[source][0], {"learning_rte": 0.1} if source else {"epoks": 2})
    with pytest.raises(ConfigError) as err:
        resolve_config(sources)
    msg = str(err.value)
    assert sources[source][0] in msg
    assert ("did you mean 'epochs'?" in msg) if source == 0 else ("unknown training setting" in msg)


def test_unknown_key_suggestion():
    with pytest.raises(ConfigError, match=r"unknown training setting 'batchsize' "
                                          r"\(did you mean 'batch_size'\?\)"):
        resolve_config([("x", {"batchsize": 3})])


def test_bad_value_names_the_winning_source():
    with pytest.raises(ConfigError) as err:
        resolve_config([("spec", {"epochs": 3}), ("the command line", {"epochs": "zero"})])
    assert "epochs = 'zero' (from the command line)" in str(err.value)
    with pytest.raises(ConfigError, match="lr = -1"):
        resolve_config([("spec", {"lr": -1})])
    with pytest.raises(ConfigError, match="Unknown data set 'cifar11:x'. Did you mean 'cifar10'"):
        resolve_config([("spec", {"data": "cifar11:x"})])
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        resolve_config([("spec", {"device": "tpu"})])
    for name in ("cuda:x", "cpu:0", "cuda:"):  # only cuda takes an index, and a number
        with pytest.raises(ConfigError, match=f"unknown device '{name}': use auto, cpu, cuda, "
                                              "cuda:N or mps"):
            resolve_config([("spec", {"device": name})])
    assert resolve_config([("spec", {"device": " CUDA:1 "})]).device == "cuda:1"


def test_config_file(tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text("epochs: 4\nlr: 0.3\n")
    assert load_config_file(good) == {"epochs": 4, "lr": 0.3}
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config_file(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "missing.yaml")
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("epochs: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(unsafe)


def test_cli_flags_override_file_and_spec(tmp_path, monkeypatch):
    spec = tmp_path / "s.yaml"
    spec.write_text("linkc: 1\nname: s\ninput: [1, 4, 4]\n"
                    "train: {epochs: 9, lr: 0.5, seed: 3, batch_size: 8}\n"
                    "nodes:\n  h: {from: input, ops: [gap, {linear: 10}]}\noutput: h\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lr: 0.2\nbatch_size: 16\n")
    seen = {}

    def fake_train(g, config, resume=None):
        seen["config"], seen["resume"] = config, resume

    monkeypatch.setattr("linkc.train.train.train", fake_train)
    assert main(["train", str(spec), "--config", str(cfg), "--batch-size", "32",
                 "--no-nesterov", "--resume"]) == 0
    c = seen["config"]
    assert (c.epochs, c.lr, c.seed, c.batch_size, c.nesterov) == (9, 0.2, 3, 32, False)
    assert seen["resume"] is True


def test_cli_unknown_key_in_spec_is_exit_2(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("linkc: 1\nname: s\ninput: [1, 4, 4]\ntrain: {epochz: 2}\n"
                    "nodes:\n  h: {from: input, ops: [gap, {linear: 10}]}\noutput: h\n")
    assert main(["train", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "unknown training setting 'epochz'" in err and "did you mean 'epochs'?" in err
    assert "Traceback" not in err


def test_every_field_has_a_flag():
    import argparse

    p = argparse.ArgumentParser()
    train_cmd.add_arguments(p)
    flags = {a.dest for a in p._actions}
    assert set(TrainConfig.model_fields) <= flags


def test_nesterov_with_no_momentum_is_a_config_error_not_a_crash(tmp_path):
    # found by the run-directory fuzzer: a truncated config.yaml left `momentum: 0`
    cfg = tmp_path / "c.yaml"
    cfg.write_text("momentum: 0\n")
    with pytest.raises(ConfigError) as err:
        resolve_config([("--config c.yaml", load_config_file(cfg))])
    assert str(err.value) == (
        "bad training settings:\n  Value error, Nesterov momentum needs a momentum above 0: "
        "set a momentum (e.g. 0.9) or nesterov: false (--no-nesterov)")
    plain = resolve_config([("--config c.yaml", {"momentum": 0, "nesterov": False})])
    assert plain.momentum == 0 and not plain.nesterov
