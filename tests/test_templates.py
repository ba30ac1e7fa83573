"""The one substitution rule of the generated files' templates."""

from __future__ import annotations

import pytest

from symact.emit.templates import fill, load


def test_a_block_is_indented_to_its_placeholders_column():
    text = "class A:\n    def f(self):\n        $body\n"
    assert fill(text, body=["x = 1", "if x:\n    x = 2"]) == (
        "class A:\n    def f(self):\n        x = 1\n        if x:\n            x = 2\n"
    )


def test_blank_lines_of_a_block_stay_empty_and_an_empty_string_in_a_list_is_one():
    assert fill("    $b\n", b=["a", "", "b"]) == "    a\n\n    b\n"
    assert fill("    $b\n", b="a\n\nb") == "    a\n\n    b\n"


def test_an_empty_block_removes_its_line():
    assert fill("a\n    $b\nc\n", b=[]) == "a\nc\n"
    assert fill("a\n    ${b}\nc\n", b="") == "a\nc\n"


def test_a_final_newline_of_a_block_adds_no_blank_line():
    fragment = "def g():\n    return 1\n"  # a rendered template fragment ends with one
    assert fill("$g\n\n\n$h\n", g=fragment, h=fragment) == "def g():\n    return 1\n\n\ndef g():\n    return 1\n"


def test_inline_placeholders_take_one_line_and_dollars_escape():
    assert fill("x = $a + ${b}_c  # $$5\n", a="1", b="y") == "x = 1 + y_c  # $5\n"
    with pytest.raises(ValueError, match=r"\$a is inline"):
        fill("x = $a\n", a="1\n2")
    with pytest.raises(ValueError, match=r"\$a is inline"):
        fill("x = $a\n", a=["1"])


def test_a_missing_or_unused_value_is_an_error():
    with pytest.raises(KeyError, match=r"\$b has no value"):
        fill("$a $b\n", a="1")
    with pytest.raises(KeyError, match="without a placeholder"):
        fill("$a\n", a="1", typo="2")


def test_user_text_with_template_markers_is_inserted_as_is():
    assert fill("# $doc\n", doc="$name ${x} $$") == "# $name ${x} $$\n"


@pytest.mark.parametrize("name", ["kernels.py", "_kernel_calls.py", "torch_ops.py", "tf_ops.py", "test.py"])
def test_every_template_loads(name):
    assert load(name).startswith("$header\n")
