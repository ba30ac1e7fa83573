"""Whole-file skeletons for generated files; ``$name`` placeholders, no logic."""

from __future__ import annotations

from importlib import resources
from string import Template


def load(name: str) -> Template:
    """The template ``templates/<name>.tmpl``."""
    return Template(resources.files(__name__).joinpath(f"{name}.tmpl").read_text(encoding="utf-8"))
