"""The pass table is the pipeline: compile, train and bench read the passes, their
modes, defaults and order from it; pair names run both halves; choosing checks modes."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from linkc.cli import main
from linkc.compiler import passes
from linkc.compiler.passes import (PAIRS, PASSES, PassError, check_passes, default_passes,
                                   expand, in_run_order)
from linkc.train.config import ConfigError, TrainConfig
from linkc.train.model_setup import training_passes

PASS_DIR = Path(passes.__file__).parent


def test_every_pass_file_has_its_row_in_run_order():
    # the files that define a pass function are exactly the table's modules
    modules = {Path(inspect.getsourcefile(p.fn)).stem for p in PASSES}
    helpers = {"__init__", "table", "match"}
    assert modules == {f.stem for f in PASS_DIR.glob("*.py")} - helpers
    assert [p.name for p in PASSES] == [p.fn.__name__ for p in PASSES]
    # the in-place merges decide on each tensor's final readers: nothing may run after them
    assert PASSES[-1].name == "inplace_merge"
    for pair in PAIRS.values():  # a pair's halves are neighbours, so the pair has one place
        ranks = [[p.name for p in PASSES].index(h) for h in pair]
        assert ranks == list(range(ranks[0], ranks[0] + len(pair)))


def test_defaults_and_order_come_from_the_table():
    assert default_passes("train") == ["drop_identity", "pool_first", "dense_chain",
                                       "channels_last"]
    # both halves of merge_nary are inference defaults: the pair runs under its name
    assert default_passes("infer") == ["drop_identity", "fold_bn", "pool_first", "merge_nary",
                                       "channels_last"]
    assert expand(default_passes("infer")) == [p.name for p in PASSES if "infer" in p.defaults]
    assert in_run_order(["channels_last", "merge_nary", "drop_identity", "merge_nary"]) == \
        ["drop_identity", "merge_nary", "channels_last"]
    assert expand(["merge_nary", "group_parallel", "fold_bn"]) == \
        ["merge_chains", "dense_buffer", "group_siblings", "group_branches", "fold_bn"]


def test_choosing_passes_checks_names_and_modes():
    assert check_passes(["merge_nary", "checkpoint_dense"], "train") == \
        ["merge_nary", "checkpoint_dense"]
    with pytest.raises(PassError, match=r"^unknown pass 'fold_bm' \(did you mean 'fold_bn'\?\)$"):
        check_passes(["fold_bm"], "infer")
    with pytest.raises(PassError, match=r"^pass 'fold_bn' is not valid in train mode \(valid "
                                        r"in: infer; the train-mode passes: channels_last, "):
        check_passes(["fold_bn"], "train")
    with pytest.raises(PassError, match="pass 'group_parallel' makes new weights"):
        check_passes(["group_parallel"], "train", keep_weights=True)


def _config(**kw) -> TrainConfig:
    return TrainConfig(**kw)


def test_training_reads_the_table():
    assert training_passes(_config()) == default_passes("train")
    assert training_passes(_config(passes=["merge_chains", "checkpoint_dense"])) == \
        ["drop_identity", "pool_first", "merge_chains", "checkpoint_dense", "dense_chain",
         "channels_last"]
    for name, said in (("group_branches", "makes new weights"),
                       ("fold_bn", "is not valid in train mode")):
        with pytest.raises(ConfigError, match=f"training setting passes: pass '{name}' {said}"):
            training_passes(_config(passes=[name]))
    # the help text names the defaults the table gives
    help_text = TrainConfig.model_fields["passes"].description
    assert f"({', '.join(default_passes('train'))})" in help_text


def test_list_passes_shows_the_table_and_the_pairs(capsys, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("linkc: 1\nname: s\ninput: [3, 4, 4]\nnodes:\n  a: {from: input, ops: "
                    "[relu]}\noutput: a\n")
    assert main(["compile", str(spec), "--list-passes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split()[0] for line in lines[1:len(PASSES) + 1]]
    assert rows == [p.name for p in PASSES]
    fold = next(line for line in lines if line.startswith("fold_bn "))
    assert fold.split()[1:5] == ["infer", "infer", "<=1e-09", "new"]
    merge = next(line for line in lines if line.startswith("merge_chains "))
    assert merge.split()[1:5] == ["infer,train", "infer", "exact", "kept"]
    assert "merge_nary = merge_chains + dense_buffer (the pair, in this order; either half " \
           "by its own name)" in lines
    assert any(line.startswith("group_parallel = group_siblings + group_branches")
               for line in lines)
