"""The catalog in definitions/: enough activations, each documented with its source."""

from __future__ import annotations

import ast

import pytest

from symact import load_definitions
from symact.testing import ROOT

FILES = sorted((ROOT / "definitions").glob("*.py"))


def test_the_catalog_has_at_least_twenty_activations_each_generated():
    names = [act.name for path in FILES for act in load_definitions(path)]
    assert len(names) >= 20 and len(set(names)) == len(names)
    assert {p.name for p in (ROOT / "generated").iterdir() if p.is_dir()} >= set(names)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_definition_says_what_it_is_and_where_it_comes_from(path):
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert doc and doc.splitlines()[0].strip(), "the file starts with a one-line summary"
    assert "Reference" in doc or "Formula:" in doc, "the file names its paper or formula source"
    for act in load_definitions(path):
        assert act.doc.strip(), f"{act.name} has a doc line"
