"""Zoo names: every shipped spec is found by its `name:` and by its file stem."""

from __future__ import annotations

import pytest

from linkc import zoo
from linkc.topology import load


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
