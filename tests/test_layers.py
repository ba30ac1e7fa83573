"""Imports inside symact point down the layers documented in the README ("How the code is
made"): no module imports from a layer above its own, or from a sibling of its layer."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "symact"

#: Layer of each module, bottom first; ``emit`` covers every module of symact/emit/, ``audit``
#: every module of symact/audit/.
LAYERS = [
    {"errors", "testing"},  # the errors users see; helpers for the tests and benchmarks
    {"names", "budget", "functions"},  # the name grammar, time budgets, symact's SymPy functions
    {"elementary"},  # elementary functions as the kernels compute them
    {"numeric"},  # references, evaluation, the error metric
    {"spec"},  # the definition API
    {"rewrite"},  # stable rewrite rules
    {"derive"},  # the derivation
    {"golden", "audit", "emit", "accuracy"},  # beside each other: none imports another
    {"generate", "report", "plot", "listing"},  # files, reports, pictures and the catalog table
    {"corpus", "bench"},  # random definitions run through generate; timing generated torch ops
    {"cli"},  # the command line on top
]
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}
#: Imports within one layer that are allowed: a module of a sub-package using its own siblings
#: (the audit's checks share its context; neither sub-package imports golden, accuracy or the other).
SAME_PACKAGE = {"emit", "audit"}


def _unit(module: str) -> str:
    """The layer unit of a dotted module inside symact: 'emit' for symact.emit.*."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported symact module) for every import in the file, nested ones too."""
    here = "symact." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    package = here.rsplit(".", 1)[0] if path.name != "__init__.py" else here.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
            else:
                names = [node.module or ""]
            found += [(node.lineno, n) for n in names if n.startswith("symact")]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("symact")]
    return found


def test_every_module_has_a_layer():
    units = {_unit("symact." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)) for p in PACKAGE.rglob("*.py")}
    units.discard("__init__")
    assert units <= set(LAYER), units - set(LAYER)


def test_imports_point_down_the_layers():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue  # the package's public API re-exports
        source = _unit("symact." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for line, target in _imports(path):
            unit = _unit(target)
            if not unit or unit == source and source in SAME_PACKAGE:
                continue
            if unit == source or LAYER[unit] >= LAYER[source]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {source} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_the_report_and_the_core_do_not_import_the_cli_toolkit():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "cli.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert "click" not in modules, path


#: Functions may be longer than this only with a comment saying why on the line above them.
LONGEST_FUNCTION = 80


def test_no_function_is_longer_than_the_limit_without_a_reason():
    """Long functions are split by what they do; one that must stay long says why in a
    comment starting with "# Long:" on the line above its ``def`` (or its decorators)."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                size = node.end_lineno - node.lineno + 1
                if size > LONGEST_FUNCTION and not lines[start - 2].strip().startswith("# Long:"):
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({size} lines)")
    assert not long, long
