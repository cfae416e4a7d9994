"""Zoo names: every shipped spec is found by its `name:` and by its file stem."""

from __future__ import annotations

import pytest

from linkc import zoo
from linkc.spec.load import load


def test_every_spec_is_found_by_its_loaded_name_and_its_file_stem():
    files = sorted(zoo.SPECS.glob("*.yaml"))
    assert len(zoo.names()) == len(files)
    for file in files:
        assert zoo.path(str(load(file).root["name"])) == file
        assert zoo.path(file.stem) == file


def test_case_and_separator_do_not_matter():
    assert zoo.path("DenseNet_BC-100").name == "densenet_bc_100.yaml"
    assert zoo.path("dmrnet").name == "dmrnet_cifar.yaml"


def test_an_unknown_name_is_a_key_error():
    with pytest.raises(KeyError, match="no zoo spec named 'densenet-bc-999'"):
        zoo.path("densenet-bc-999")


# ---- names everywhere a spec is taken -------------------------------------------------
import linkc  # noqa: E402
from linkc.cli import main  # noqa: E402
from linkc.frontend import SpecError, build  # noqa: E402

SPECS = zoo.SPECS


def test_a_family_name_with_params_is_the_member_with_those_params():
    family = build("densenet-bc", params={"k": 40, "depth": 190})
    member = build(SPECS / "densenet_bc_190_k40.yaml")
    assert family.param_count == member.param_count == 25_624_430


def test_create_returns_the_module_with_the_params_overridden():
    model = linkc.create("densenet-bc", depth=40, k=12)
    assert sum(p.numel() for p in model.parameters()) == \
        build(SPECS / "densenet_bc_100.yaml", params={"depth": 40}).param_count
    with pytest.raises(SpecError, match="cannot set param 'kk'") as info:
        linkc.create("densenet-bc", kk=24)
    assert info.value.hint == "did you mean 'k'?"


def test_a_paper_row_label_names_its_spec_with_the_row_params():
    assert "MixNet-250" in zoo.labels()
    resolved = zoo.resolve("mixnet-250")
    assert resolved.spec == SPECS / "mixnet.yaml"
    assert resolved.params == {"depth": 250, "k1": 24, "k2": 24}
    assert build("MixNet-250").param_count == build(
        SPECS / "mixnet.yaml", params={"depth": 250, "k1": 24, "k2": 24}).param_count


def test_a_prefix_of_specs_that_differ_in_structure_is_not_a_family():
    with pytest.raises(SpecError, match="'resnet' starts the names of several zoo specs") as info:
        build("resnet")
    assert "resnet-20" in info.value.hint


def test_a_file_wins_over_a_zoo_name(tmp_path, monkeypatch):
    (tmp_path / "resnet-20").write_text(
        "linkc: 1\nname: mine\ninput: [3, 8, 8]\nnodes:\n  a: {from: input, ops: [relu]}\n"
        "output: a\n")
    monkeypatch.chdir(tmp_path)
    assert build("resnet-20").name == "mine"


def test_an_unknown_name_is_exit_2_with_the_nearest_names(capsys):
    assert main(["check", "densenet-bc-99"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "error: 'densenet-bc-99' is neither a spec file nor a zoo name"
    assert "nearest zoo names: densenet-bc-100," in err


def test_cli_commands_take_zoo_names(tmp_path, capsys):
    assert main(["check", "resnet-20"]) == 0
    assert "resnet-20: ok" in capsys.readouterr().out
    assert main(["render", "dmrnet", "-o", str(tmp_path / "d.mmd")]) == 0
    assert "title: dmrnet" in (tmp_path / "d.mmd").read_text()
