"""A spec path to nothing names the nearest spec files and zoo names (a misspelling is the
usual cause), and keeps saying what the system said."""

from __future__ import annotations

import pytest

from linkc.cli import main
from linkc.errors import SpecError
from linkc.frontend import build

SPEC = "linkc: 1\nname: n\ninput: [3, 8, 8]\nnodes:\n  a: {from: input, ops: [relu]}\noutput: a\n"


@pytest.fixture
def nets(tmp_path):
    folder = tmp_path / "nets"
    folder.mkdir()
    for name in ("resnet_20.yaml", "resnet_56.yaml", "vgg_11.yaml", "notes.txt"):
        (folder / name).write_text(SPEC)
    return folder


def test_a_misspelt_file_names_the_files_beside_it_and_the_zoo_names(nets, capsys):
    assert main(["check", str(nets / "resnt_20.yaml")]) == 2
    first, hint = capsys.readouterr().err.splitlines()
    assert first == f"error: cannot read spec '{nets / 'resnt_20.yaml'}': No such file or directory"
    files, zoo = hint.strip().split("; ")
    assert files == f"nearest files: {nets / 'resnet_20.yaml'}, {nets / 'resnet_56.yaml'}"
    assert zoo.startswith("nearest zoo names: resnet-20")
    assert zoo.endswith("(`linkc zoo` lists them all)")


def test_a_misspelt_folder_is_looked_past(nets):
    with pytest.raises(SpecError) as info:
        build(nets.parent / "net" / "vgg_11.yaml")
    assert info.value.hint.startswith(f"nearest files: {nets / 'vgg_11.yaml'}")


def test_nothing_near_gives_no_hint(tmp_path):
    with pytest.raises(SpecError) as info:
        build(str(tmp_path / "zzzzzz" / "qqqqqqqqqq.yaml"))
    assert info.value.message == (f"cannot read spec '{tmp_path / 'zzzzzz' / 'qqqqqqqqqq.yaml'}'"
                                  ": No such file or directory")
    assert info.value.hint is None
