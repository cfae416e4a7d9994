"""Where `linkc render -o` writes: a missing folder is made (as `compile -o` does); a
path that cannot be written is exit 2 with the reason, not an internal error."""

from __future__ import annotations

from linkc.cli import main

SPEC = ("linkc: 1\nname: t\ninput: [3, 8, 8]\n"
        "nodes:\n  a: {from: input, ops: [relu]}\noutput: a\n")


def test_a_missing_folder_is_made(tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "not" / "yet" / "dag.dot"
    assert main(["render", str(spec), "-o", str(out)]) == 0
    assert out.read_text().startswith("digraph")


def test_unwritable_paths_are_exit_2(tmp_path, capsys):
    spec = tmp_path / "t.yaml"
    spec.write_text(SPEC)
    (tmp_path / "folder.mmd").mkdir()
    assert main(["render", str(spec), "-o", str(tmp_path / "folder.mmd")]) == 2
    assert capsys.readouterr().err.strip() == f"cannot write '{tmp_path / 'folder.mmd'}': " \
                                              "Is a directory"
    assert main(["render", str(spec), "-o", str(spec / "dag.dot")]) == 2
    assert f"cannot make the folder '{spec}'" in capsys.readouterr().err
