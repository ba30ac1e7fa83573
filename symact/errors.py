"""Errors that symact reports to users as one clean line."""

from __future__ import annotations


class SymactError(Exception):
    """Base class for every error symact reports to a user (exit code 2)."""

    exit_code = 2


class DefinitionError(SymactError):
    """A problem in a definition file, located at ``file:line``."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        super().__init__(self.location_message())

    def location_message(self) -> str:
        if self.file is None:
            return self.message
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class UnsupportedFunctionError(SymactError):
    """A backend printer met a SymPy node it cannot express."""


class InaccurateError(DefinitionError):
    """Generated code would miss its own golden tests' bounds (exit code 1): refused, with
    the quantity, the point and the error; nothing is written."""

    exit_code = 1
