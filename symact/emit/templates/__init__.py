"""Whole-file skeletons for generated files; ``$name`` placeholders, no logic."""

from __future__ import annotations

import re
from importlib import resources
from string import Template

__all__ = ["load", "docstring_text"]


def load(name: str) -> Template:
    """The template ``templates/<name>.tmpl``."""
    return Template(resources.files(__name__).joinpath(f"{name}.tmpl").read_text(encoding="utf-8"))


_QUOTE_RUN = re.compile(r'"(?="|\Z)')
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def docstring_text(text: str) -> str:
    """User text made inert inside a ``\"\"\"...\"\"\"`` docstring of generated code.

    Backslashes are doubled (so ``\\N`` is no escape), a quote followed by a quote or by
    the end is escaped (so no run of three quotes can close the string), and control
    characters and lone surrogates become ``\\x..``/``\\u....`` escapes. Evaluating the
    docstring gives back the text exactly.

    >>> print(docstring_text('say \"\"\"hi\"\"\" \\\\N'))
    say \\"\\""hi\\"\\"" \\\\N
    """
    text = text.replace("\\", "\\\\")
    text = _QUOTE_RUN.sub(r'\\"', text)
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", text)
