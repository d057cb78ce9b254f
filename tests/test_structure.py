"""The package's shape: no two modules import each other, and no method name is spelled outside `methods/`."""

from __future__ import annotations

import ast
from pathlib import Path

import samiksha

PACKAGE = Path(samiksha.__file__).parent


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules ``path`` imports anywhere in it (in functions and TYPE_CHECKING blocks too)."""
    name = _module(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            named = {f"{base}.{alias.name}" for alias in node.names} & modules
            found |= named or ({base} & modules)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names} & modules
    return found - {name}


def test_no_two_modules_import_each_other():
    files = list(PACKAGE.rglob("*.py"))
    modules = {_module(p) for p in files}
    graph = {_module(p): _imports(p, modules) for p in files}
    circles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph.get(b, ())})
    assert circles == []


# metrics.json names a blend's parts; those names are the stack's and TF-IDF's, spelled there once (metrics.py)
PART_NAMES = {"metrics.py"}


def test_no_method_name_is_spelled_outside_methods():
    """A new method is one module in methods/: no other module compares against, lists or picks a method by name."""
    import dataclasses

    from samiksha import TrainConfig, methods

    names = set(methods.names())
    fields = {f.name for f in dataclasses.fields(TrainConfig)}  # `stack` is also auto's setting
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "methods" or path.name in PART_NAMES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        keys = {id(node.args[0]) for node in ast.walk(tree) if isinstance(node, ast.Call) and node.args
                and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "setdefault")}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    not (id(node) in keys and node.value in fields):
                words = {node.value.strip(), *node.value.replace(",", " ").split()}
                if node.value.strip() in names or (len(node.value) < 60 and words & names and "," in node.value):
                    found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert found == []
