"""`build(spec, params)` overrides top-level params (rows of a paper's table)."""

import pytest

from linkc.frontend import SpecError, build

SPEC = """
linkc: 1
name: t
params: {width: 8, double: 2*width}
input: [3, 8, 8]
nodes:
  c: {from: input, ops: [{conv: [double, 3]}]}
output: c
"""


def test_override_changes_dependent_params():
    assert build(SPEC).nodes["c"].shape == (16, 8, 8)
    assert build(SPEC, {"width": 5}).nodes["c"].shape == (10, 8, 8)
    assert build(SPEC, {"double": "width + 1"}).nodes["c"].shape == (9, 8, 8)


def test_unknown_param_is_a_spec_error_with_a_suggestion():
    with pytest.raises(SpecError) as err:
        build(SPEC, {"widht": 4})
    assert "no such param" in err.value.message and "width" in (err.value.hint or "")
    assert err.value.loc is not None and err.value.loc.line == 4


def test_override_leaves_the_document_alone():
    from linkc.spec.load import load

    doc = load(SPEC)
    build(doc, {"width": 3})
    assert build(doc).nodes["c"].shape == (16, 8, 8)
