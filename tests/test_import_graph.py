"""The import graph of ``netraven_tasks`` and ``api``: no cycle, no upward import, nothing hidden.

Read from the source with ``ast`` (nothing is imported). Every import of one of our modules is an
edge, at module level or inside a function alike: a function-level import hides a dependency
without removing it, so it is checked the same way and must say why it is lazy (``# lazy: …``).
The layers are written down in docs/architecture.md ("Layers"); a new module is placed here.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("netraven_tasks", "api")
# Alembic loads these by path (env.py, versions/*.py); nothing imports them as modules.
NOT_MODULES = ("netraven_tasks/migrations/",)

# Bottom to top: a module may import its own layer and the layers below it, never one above.
# A module belongs to the layer of its most specific matching pattern: a name beats a wildcard,
# then the longer pattern wins.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "base: settings and helpers that import nothing of ours above them",
        (
            "netraven_tasks.settings", "netraven_tasks.private_files", "netraven_tasks.statuses",
            "netraven_tasks.broker", "netraven_tasks.pool_shutdown", "netraven_tasks.schedules.timing",
            "netraven_tasks.notifications.url_safety", "netraven_tasks.jobs.retry_policy",
            "netraven_tasks.input_schema", "netraven_tasks.jobs.hosts", "netraven_tasks.rollups.histogram",
            "netraven_tasks.backoff", "netraven_tasks.text", "netraven_tasks.devices.platforms",
            "netraven_tasks.compliance", "netraven_tasks.compliance.rules",
            "netraven_tasks.compliance.checking", "netraven_tasks.backups.normalise", "netraven_tasks.extras",
        ),
    ),
    (
        "data: models, sessions, schema, accounts",
        (
            "netraven_tasks.models", "netraven_tasks.db", "netraven_tasks.migrate",
            "netraven_tasks.auth", "netraven_tasks.access.tokens",
            "netraven_tasks.*.models", "netraven_tasks.rollups.schema", "netraven_tasks.backups",
            "netraven_tasks.backups.*",
        ),
    ),
    (
        "domain: tracking, notifications, schedules, rollups, job types' machinery",
        (
            "netraven_tasks.tracking", "netraven_tasks.tracking.*", "netraven_tasks.notifications",
            "netraven_tasks.notifications.*", "netraven_tasks.schedules", "netraven_tasks.schedules.*",
            "netraven_tasks.rollups", "netraven_tasks.rollups.*", "netraven_tasks.jobs",
            "netraven_tasks.jobs.*", "netraven_tasks.retention", "netraven_tasks.statistics",
            "netraven_tasks.metrics", "netraven_tasks.logging_setup", "netraven_tasks.preferences",
            "netraven_tasks.users", "netraven_tasks.quotas", "netraven_tasks.access",
            "netraven_tasks.access.policy",
            "netraven_tasks.devices", "netraven_tasks.devices.*",
            "netraven_tasks.batches", "netraven_tasks.batches.counters", "netraven_tasks.batches.queries",
            "netraven_tasks.batches.arguments", "netraven_tasks.compliance.*",
            "netraven_tasks.teams", "netraven_tasks.teams.*",
            "netraven_tasks.routes", "netraven_tasks.routes.*",
            "netraven_tasks.audit", "netraven_tasks.audit.*",
            "netraven_tasks.fleet_metrics",
            "netraven_tasks.maintenance", "netraven_tasks.maintenance.*",
        ),
    ),
    (
        "runtime: launching, Celery tasks and job modules, beat (they reach the app through runtime)",
        (
            "netraven_tasks.runtime", "netraven_tasks.jobs.launch", "netraven_tasks.jobs.actions",
            "netraven_tasks.jobs.reachability", "netraven_tasks.jobs.config_backup",
            "netraven_tasks.jobs.compliance_check",
            "netraven_tasks.tracking.tasks", "netraven_tasks.notifications.tasks",
            "netraven_tasks.rollups.tasks", "netraven_tasks.schedules.watch",
            "netraven_tasks.schedules.launcher", "netraven_tasks.schedules.beat",
            "netraven_tasks.batches.launch", "netraven_tasks.batches.actions",
            "netraven_tasks.maintenance.tasks",
        ),
    ),
    (
        "celery: the integration and the app",
        (
            "netraven_tasks.celery_integration", "netraven_tasks.recorder_step", "netraven_tasks.celery_app",
            "netraven_tasks",  # `celery -A netraven_tasks` finds the app through the package
            "netraven_tasks.heartbeat_step", "netraven_tasks.tracked_apps",
        ),
    ),
    (
        "entry points: the CLI and the development server",
        (
            "netraven_tasks.cli", "netraven_tasks.cli.*", "netraven_tasks.schedules.commands",
            "netraven_tasks.devserver", "netraven_tasks.service_argv",
        ),
    ),
    ("api: the HTTP API and the dashboard (may import netraven_tasks, never the reverse)", ("api", "api.*")),
]  # fmt: skip

LAZY_MARK = "lazy:"


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    lazy: bool  # inside a function
    reason: bool  # a "# lazy: …" comment on the line or right above it


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if not str(path.relative_to(ROOT)).startswith(NOT_MODULES):
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module of ours that ``name`` (a module, or a name in one) is imported from."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _has_reason(lines: list[str], line: int) -> bool:
    """A ``# lazy: …`` comment on the import line or in the comment lines right above it."""
    if LAZY_MARK in lines[line - 1]:
        return True
    above = line - 2
    while above >= 0 and lines[above].strip().startswith("#"):
        if LAZY_MARK in lines[above]:
            return True
        above -= 1
    return False


def _imports(module: str, path: Path) -> Iterator[Import]:
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    in_function = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for inner in ast.walk(node)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            # `from package import submodule` depends on the submodule, else on the package.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name) if name.split(".")[0] in PACKAGES else None
            if target and target != module:
                lazy = id(node) in in_function
                yield Import(module, target, node.lineno, lazy, lazy and _has_reason(lines, node.lineno))


IMPORTS = [found for module, path in sorted(MODULES.items()) for found in _imports(module, path)]


def layer_of(module: str) -> int:
    matches = [
        ("*" not in pattern, len(pattern), index)
        for index, (_name, patterns) in enumerate(LAYERS)
        for pattern in patterns
        if fnmatch.fnmatchcase(module, pattern)
    ]
    if not matches:
        raise AssertionError(f"{module} is in no layer: place it in LAYERS (and docs/architecture.md)")
    return max(matches)[2]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_packages_are_read():
    assert {"netraven_tasks.celery_app", "netraven_tasks.cli", "api.app"} <= MODULES.keys()
    assert len(IMPORTS) > 300, "the reader finds the imports"


def test_no_import_cycle():
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for found in IMPORTS:
        graph[found.source].add(found.target)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_upward_import():
    upward = [
        f"{found.source}:{found.line} ({LAYERS[layer_of(found.source)][0].split(':')[0]}) imports "
        f"{found.target} ({LAYERS[layer_of(found.target)][0].split(':')[0]})"
        for found in IMPORTS
        if layer_of(found.target) > layer_of(found.source)
    ]
    assert upward == []


@pytest.mark.parametrize(
    ("module", "expected"),
    [("netraven_tasks.settings", 0), ("netraven_tasks.tracking.tasks", 3), ("netraven_tasks.cli.jobs", 5)],
)
def test_the_most_specific_pattern_decides_the_layer(module: str, expected: int):
    assert layer_of(module) == expected


def test_function_level_imports_of_our_modules_say_why_they_are_lazy():
    unexplained = [f"{f.source}:{f.line} imports {f.target}" for f in IMPORTS if f.lazy and not f.reason]
    assert unexplained == [], f"move them to the top of the module, or add a '# {LAZY_MARK} why' comment"


# Where the settings are read from the environment: the entry points, which hand them down.
SETTINGS_ENTRY_POINTS = (
    "netraven_tasks.settings", "netraven_tasks.celery_app", "netraven_tasks.cli", "netraven_tasks.cli.*",
    "netraven_tasks.schedules.commands", "netraven_tasks.devserver", "api.app", "api.asgi",
    "api.gunicorn_config", "netraven_tasks.tracked_apps",
)  # fmt: skip


def _get_settings_calls(path: Path) -> Iterator[int]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            called = node.func
            name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", None)
            if name == "get_settings":
                yield node.lineno


def test_the_cached_settings_are_read_only_by_the_entry_points():
    """Below them, code uses the settings it was given (``runtime_of(app).settings`` in tasks): a
    global read ignores the settings an app or a test was installed with."""
    readers = [
        f"{module}:{line}"
        for module, path in sorted(MODULES.items())
        if not any(fnmatch.fnmatchcase(module, pattern) for pattern in SETTINGS_ENTRY_POINTS)
        for line in _get_settings_calls(path)
    ]
    assert readers == [], "take the settings from the caller or runtime_of(app).settings"
