"""The examples in the package's docstrings (rewrite rules, the cost model, ...) run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import symact

MODULES = sorted(m.name for m in pkgutil.walk_packages(symact.__path__, "symact."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
