"""Helpers for symact's own tests and benchmarks, which run from a checkout of symact.

Generated code never needs this module: a generated folder imports nothing from symact.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "load_module"]

#: The checkout symact is imported from (``definitions/``, ``generated/``, ``tests/``).
ROOT = Path(__file__).resolve().parents[1]


def load_module(path: Path, name: str) -> Any:
    """Import a generated file under a fixed module name, registered in sys.modules (Numba's
    cache imports a module by name: Note [Numba cache] in the generated _kernel_calls.py)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
