"""Every command's --help ends with an example that names the command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from symact.cli import main


@pytest.mark.parametrize("command", sorted(main.commands))
def test_help_has_an_example(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    example = result.output.split("Example:", 1)[1]
    assert f"symact {command} " in example


def test_the_group_help_has_an_example_and_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert "Example:" in result.output
    assert {"generate", "audit", "accuracy", "plot", "list"} <= set(main.commands)
