"""The package import graph follows ARCHITECTURE.md's stage order (enforced in CI).

Walks every module of ``src/vidscope`` with ``ast`` (imports inside functions count too):
no package imports a later stage, there is no cycle between packages, and no module
imports another package's private ``_module`` (stages talk through their ``__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "vidscope"
#: Bottom to top. A package may import only packages listed before it.
ORDER = [
    "errors",
    "types",
    "video",
    "datasets",
    "backbones",
    "features",
    "data",
    "metrics",
    "models",
    "training",
    "localize",
    "report",
    "pipelines",
    "label",
    "cli",
]
#: Private modules another package may import (none: use the package's ``__init__``).
PRIVATE_OK: set[tuple[str, str]] = set()


def _edges() -> list[tuple[str, str, str, str]]:
    """``(importing package, imported package, imported submodule or "", file)``."""
    out = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        parts = list(rel.with_suffix("").parts)
        src = parts[0]
        package = parts[:-1]  # the package a module (or an __init__) belongs to
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = [*base, *(node.module.split(".") if node.module else [node.names[0].name])]
            elif (node.module or "").startswith("vidscope."):
                mod = node.module.split(".")[1:]
            else:
                continue
            if not mod or mod[0] == src:
                continue
            sub = mod[1] if len(mod) > 1 else ""
            out.append((src, mod[0], sub, str(rel)))
    return out


def test_no_stage_imports_a_later_stage():
    rank = {name: i for i, name in enumerate(ORDER)}
    bad = sorted(
        f"{f}: {a} -> {b}"
        for a, b, _, f in _edges()
        if a in rank and b in rank and rank[b] > rank[a]
    )
    assert not bad, "imports of a later stage:\n" + "\n".join(bad)


def test_every_package_has_a_stage():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert (packages | modules) - set(ORDER) == set(), "add new packages to ORDER"


def test_no_cycles_between_packages():
    graph: dict[str, set[str]] = {}
    for a, b, _, _ in _edges():
        graph.setdefault(a, set()).add(b)

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted(a for a in graph if a in reach(a))
    assert not cycles, f"packages in import cycles: {cycles}"


def test_no_private_module_of_another_package():
    bad = sorted(
        f"{f}: {b}.{sub}"
        for a, b, sub, f in _edges()
        if sub.startswith("_") and (b, sub) not in PRIVATE_OK and b != "errors"
    )
    assert not bad, "imports of another package's private module:\n" + "\n".join(bad)
