#!/usr/bin/env python3
"""Check the import layers of ``gateway/`` and ``detectors/`` (docs/architecture.md, issue 10).

An import-linter equivalent with no dependency: it reads every module with ``ast`` and checks that

1. a module imports only from its own layer or layers below it (``LAYERS``, top first); plain leaf types
   (``LEAF``: modules that import nothing of the project but other leaf types) may be imported by anyone;
2. ``detectors/`` imports nothing of ``gateway/`` but leaf types; ``gateway/mime/`` nothing of ``detectors/``;
   ``gateway/store/`` and ``gateway/policy/`` none of the SMTP edge, upstream, pipeline, runtime, app, commands;
3. there are no import cycles between modules (function-level imports count; ``if TYPE_CHECKING:`` ones do not);
4. no module is over ``MAX_LINES`` lines;
5. Presidio internals (anything below ``presidio_analyzer``'s top level, and building ``NlpArtifacts`` by hand)
   are used in ``PRESIDIO_ADAPTER`` only.

Exit status 0 when every contract holds, 1 with one line per broken contract otherwise.
Run: ``python scripts/check_layers.py`` (``scripts/test`` runs it).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "detectors")
MAX_LINES = 600
PRESIDIO_ADAPTER = "detectors.presidio_adapter"

# Top first. A module belongs to the first layer with a prefix that matches it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("face", ("gateway.cli", "gateway.commands", "gateway.app", "gateway.metrics", "gateway.__main__")),
    ("console", ("gateway.console",)),
    ("edge", ("gateway.smtp", "gateway.pipeline", "gateway.runtime", "gateway.firsttime", "gateway.exemptcache")),
    ("outgoing", ("gateway.notify", "gateway.digest", "gateway.upstream")),
    ("store", ("gateway.store",)),
    ("evaluator", ("gateway.evaluator", "gateway.scan", "gateway.workers", "gateway.expectations")),
    ("actions", ("gateway.actions",)),
    ("config", ("gateway.config",)),
    ("policy", ("gateway.policy",)),
    ("detectors", ("detectors",)),
    ("mime", ("gateway.mime",)),
]

# Plain leaf types and helpers: they import nothing of the project except each other.
LEAF: frozenset[str] = frozenset({
    "gateway",
    "detectors",
    "gateway.facts",
    "gateway.submission",
    "gateway.message_spool",
    "gateway.config_errors",
    "gateway.tasks",
    "gateway.logging",
    "gateway.oneline",
    "gateway.mime.model",
    "gateway.store.settings",
    "gateway.sso_settings",
    "detectors.findings",
})

# Extra "must not import" contracts, checked on top of the layers (a clear message for the common mistakes).
FORBIDDEN: list[tuple[str, tuple[str, ...]]] = [
    ("gateway.store", ("gateway.smtp", "gateway.upstream", "gateway.pipeline", "gateway.runtime", "gateway.app",
                       "gateway.commands", "gateway.notify", "gateway.digest", "gateway.cli")),
    ("gateway.policy", ("gateway.smtp", "gateway.upstream", "gateway.pipeline", "gateway.runtime", "gateway.store",
                        "gateway.commands", "gateway.app")),
    ("gateway.mime", ("detectors",)),
]


def module_files(root: Path) -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skip.update(id(n) for n in ast.walk(inner))
    return skip


def imports_of(name: str, path: Path, mods: dict[str, Path], tree: ast.AST) -> tuple[set[str], list[str]]:
    """(project modules imported, external dotted names imported) by one module."""
    skip = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    raw: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            raw.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                raw.append(candidate if candidate in mods else target)
    project: set[str] = set()
    external: list[str] = []
    for dotted in raw:
        if dotted.split(".")[0] not in PACKAGES:
            external.append(dotted)
            continue
        mod = dotted
        while mod and mod not in mods:
            mod = mod.rpartition(".")[0]
        if mod and mod != name:
            project.add(mod)
    return project, external


def layer_of(name: str) -> int | None:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return i
    return None


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return out


def check(root: Path = ROOT) -> list[str]:
    mods = module_files(root)
    graph: dict[str, set[str]] = {}
    problems: list[str] = []
    for name, path in mods.items():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
        project, external = imports_of(name, path, mods, tree)
        graph[name] = project
        rel = path.relative_to(root)
        lines = source.count("\n")
        if lines > MAX_LINES and "migrations" not in rel.parts:
            problems.append(f"{rel}: {lines} lines (at most {MAX_LINES})")
        if name != PRESIDIO_ADAPTER:
            for dotted in external:
                if dotted.startswith("presidio_analyzer."):
                    problems.append(f"{rel}: imports Presidio internals ({dotted}); go through {PRESIDIO_ADAPTER}")
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "NlpArtifacts":
                    problems.append(f"{rel}:{node.lineno}: builds NlpArtifacts; go through {PRESIDIO_ADAPTER}")
    for name, targets in sorted(graph.items()):
        rel = mods[name].relative_to(root)
        mine = layer_of(name)
        for target in sorted(targets):
            if name in LEAF:
                if target not in LEAF:
                    problems.append(f"{rel}: leaf type module imports {target} (leaf types import only leaf types)")
                continue
            if _under(name, "detectors") and _under(target, "gateway") and (target not in LEAF or graph.get(target)):
                problems.append(f"{rel}: detectors/ imports {target} "
                                "(only gateway/ leaf modules that import nothing of the project are allowed)")
                continue
            if target in LEAF:
                continue
            for prefix, banned in FORBIDDEN:
                if _under(name, prefix) and any(_under(target, b) for b in banned):
                    problems.append(f"{rel}: {prefix} must not import {target}")
            theirs = layer_of(target)
            if mine is not None and theirs is not None and theirs < mine:
                problems.append(
                    f"{rel}: layer '{LAYERS[mine][0]}' imports {target} from the higher layer '{LAYERS[theirs][0]}'"
                )
        if mine is None and name not in LEAF:
            problems.append(f"{rel}: module {name} is in no layer (add it to scripts/check_layers.py LAYERS)")
    for cycle in find_cycles(graph):
        problems.append("import cycle: " + " -> ".join(cycle))
    return sorted(set(problems))


def main() -> int:
    problems = check()
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layer contract(s) broken (see scripts/check_layers.py)", file=sys.stderr)
        return 1
    print("layers: every contract holds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
