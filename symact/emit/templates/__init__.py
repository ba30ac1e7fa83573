"""Whole-file skeletons for generated files, and the one rule that fills them.

A template is the text of the generated file with ``$name`` (or ``${name}``)
placeholders and no logic; ``$$`` is a dollar sign. :func:`render` fills it by one rule,
the one torchgen's code templates follow:

- a placeholder alone on its line is a **block**: its value (a string, or a list of
  strings) is put there line by line, each line indented to the placeholder's column
  (blank lines stay empty); an empty value removes the line (so a template fragment,
  rendered and given as a value, needs no care about its final newline);
- any other placeholder is **inline**: its value is one line of text.

So a value never carries its own indentation or the newlines around it, and the code
that builds a value does not need to know where it goes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

__all__ = ["load", "render", "docstring_text"]

_PLACEHOLDER = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_BLOCK = re.compile(r"^([ \t]*)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))[ \t]*$")

Value = str | Sequence[str]


def load(name: str) -> str:
    """The text of ``templates/<name>.tmpl``."""
    return resources.files(__name__).joinpath(f"{name}.tmpl").read_text(encoding="utf-8")


def _lines(value: Value) -> list[str]:
    """A block's lines: an empty string has none, a final newline ends the last line (it
    adds no blank line), and an empty string in a list is a blank line."""
    if isinstance(value, str):
        return value.removesuffix("\n").split("\n") if value else []
    return [line for part in value for line in part.removesuffix("\n").split("\n")]


def render(template: str, /, **values: Value) -> str:
    """``templates/<template>.tmpl`` filled with ``values`` by the rule above.

    Every placeholder must have a value and every value a placeholder (a misspelt name
    is an error, not a silent gap).

    >>> print(fill("def f():\\n    $body\\n    return ${out}\\n", body=["a = 1", "if a:\\n    a = 2"], out="a"))
    def f():
        a = 1
        if a:
            a = 2
        return a
    <BLANKLINE>
    """
    return fill(load(template), **values)


def fill(text: str, /, **values: Value) -> str:
    """``text`` (a template's text) filled with ``values``; see :func:`render`."""
    used: set[str] = set()

    def value(key: str) -> Value:
        if key not in values:
            raise KeyError(f"template placeholder ${key} has no value")
        used.add(key)
        return values[key]

    def inline(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        key = match.group(2) or match.group(3)
        text = value(key)
        if not isinstance(text, str) or "\n" in text:
            raise ValueError(f"template placeholder ${key} is inline, but its value is not one line")
        return text

    out: list[str] = []
    for line in text.split("\n"):
        block = _BLOCK.match(line)
        if block:
            indent = block.group(1)
            out.extend(indent + piece if piece.strip() else "" for piece in _lines(value(block.group(2) or block.group(3))))
        else:
            out.append(_PLACEHOLDER.sub(inline, line))
    unused = set(values) - used
    if unused:
        raise KeyError(f"values without a placeholder: {sorted(unused)}")
    return "\n".join(out)


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
