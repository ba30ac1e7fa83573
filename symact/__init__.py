"""symact: activation functions as SymPy expressions, turned into trustworthy code."""

from .errors import DefinitionError, SymactError
from .spec import Activation, Param, load_definitions, x

__all__ = ["Activation", "Param", "x", "load_definitions", "SymactError", "DefinitionError"]
__version__ = "0.1.0"
