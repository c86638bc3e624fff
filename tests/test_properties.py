"""Property tests: no input makes the pipeline raise; bad input is a reported CEL000; generated
Celery projects get exactly the findings their templates predict."""

from __future__ import annotations

import builtins
import keyword
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import hypothesmith
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from celerylint.config import Settings
from celerylint.engine import analyse, run
from celerylint.facts import facts_from_bytes
from celerylint.rules import ALL_CODES
from tests.conftest import write_project

CELERY_PRELUDE = "from celery import Celery, shared_task\nfrom flask import current_app\n"
# CI explores the same examples every run (a red build must be reproducible); locally,
# `CELERYLINT_FUZZ=1 pytest tests/test_properties.py` explores new ones.
DERANDOMIZE = os.environ.get("CELERYLINT_FUZZ") != "1"


@settings(max_examples=150, deadline=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    facts = facts_from_bytes(data)
    assert facts.syntax_error is None or facts.syntax_error.line >= 1


@settings(max_examples=150, deadline=None, derandomize=DERANDOMIZE)
@given(st.text(max_size=300))
def test_random_text_with_celery_tokens_never_raises(text: str) -> None:
    facts_from_bytes((CELERY_PRELUDE + text).encode("utf-8", "surrogatepass"))


@settings(
    max_examples=40, deadline=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(hypothesmith.from_grammar())
def test_valid_programs_give_facts(source: str) -> None:
    facts = facts_from_bytes((CELERY_PRELUDE + source).encode("utf-8", "surrogatepass"))
    if facts.syntax_error is not None:
        # Only what CPython itself rejects (hypothesmith's grammar is looser) may fail.
        try:
            compile(CELERY_PRELUDE + source, "<fuzz>", "exec")
        except (SyntaxError, ValueError):
            return
        raise AssertionError(f"valid program reported as {facts.syntax_error}")


# --- whole pipeline on generated Celery projects --------------------------------------

RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {
    "app", "celery", "view", "self", "tasks", "views", "celeryconfig", "shared_task", "Celery", "kombu", "flask", "django",
}
IDENTIFIERS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=2, max_size=10).filter(
    lambda name: name.isidentifier() and name not in RESERVED and not name.startswith(("test", "_")) and name != "conftest"
)
# How the app gets a time limit, if at all.
APP_LIMITS = ("none", "constructor", "conf_attribute", "conf_update", "config_module", "worker_flag")
READS = ("none", "fire_and_forget", "get", "apply_async_get", "local_status")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    shared: bool  # @shared_task instead of @app.task
    bind: bool
    limit: Optional[str]  # "time_limit" / "soft_time_limit" / None
    limit_value: Optional[int]  # None: explicitly `=None`, which sets nothing
    extra: Tuple[str, ...]  # harmless options: ignore_result=True, name='...', queue='...'


@dataclass(frozen=True)
class CeleryProject:
    package: str
    app_module: str
    tasks_apart: bool  # tasks in <package>/tasks.py rather than next to the app
    include: bool  # Celery(include=[...tasks]) when they are apart
    backend: bool
    app_limit: str
    app_limit_value: int
    procfile: bool
    reads: str
    tasks: Tuple[TaskSpec, ...]


@st.composite
def task_specs(draw, name: str) -> TaskSpec:  # type: ignore[no-untyped-def]
    limit = draw(st.sampled_from([None, "time_limit", "soft_time_limit"]))
    value = draw(st.one_of(st.none(), st.integers(1, 3600))) if limit else None
    extra = draw(st.lists(st.sampled_from(["ignore_result=True", f"name='jobs.{name}'", "queue='low'", "max_retries=3"]), unique=True, max_size=2))
    return TaskSpec(name, draw(st.booleans()), draw(st.booleans()), limit, value, tuple(extra))


@st.composite
def celery_projects(draw) -> CeleryProject:  # type: ignore[no-untyped-def]
    package = draw(IDENTIFIERS)
    app_module = draw(st.sampled_from(["celery", "celery_app", "worker", "app_factory"]))
    names = draw(st.lists(IDENTIFIERS.filter(lambda n: n not in (package, app_module)), min_size=1, max_size=4, unique=True))
    app_limit = draw(st.sampled_from(APP_LIMITS))
    tasks_apart = draw(st.booleans())
    return CeleryProject(
        package=package,
        app_module=app_module,
        tasks_apart=tasks_apart,
        include=tasks_apart and draw(st.booleans()),
        backend=draw(st.booleans()),
        app_limit=app_limit,
        app_limit_value=draw(st.integers(1, 3600)),
        procfile=app_limit == "worker_flag" or draw(st.booleans()),
        reads=draw(st.sampled_from(READS)),
        tasks=tuple(draw(task_specs(name)) for name in names),
    )


class _Lines:
    """Source text built line by line, remembering where each task's decorator lands."""

    def __init__(self) -> None:
        self.lines: List[str] = []

    def add(self, *lines: str) -> int:
        self.lines.extend(lines)
        return len(self.lines) - len(lines) + 1

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _write_tasks(out: _Lines, spec: CeleryProject, rel: str, decorators: Dict[str, Tuple[str, int]]) -> None:
    for task in spec.tasks:
        options = list(task.extra)
        if task.bind:
            options.insert(0, "bind=True")
        if task.limit:
            options.append(f"{task.limit}={task.limit_value}")
        name = "shared_task" if task.shared else "app.task"
        decorator = f"@{name}({', '.join(options)})" if options or task.shared else "@app.task"
        out.add("", "")
        line = out.add(decorator)
        out.add(f"def {task.name}({'self, ' if task.bind else ''}x):", "    return x")
        decorators[task.name] = (rel, line)


def build_celery_project(spec: CeleryProject) -> Tuple[Dict[str, str], Dict[str, Tuple[str, int]], Tuple[str, int]]:
    """Files, each task's decorator location, and the location of the `Celery(...)` call."""
    pkg, files = spec.package, {}
    app_rel = f"{pkg}/{spec.app_module}.py"
    tasks_module = f"{pkg}.tasks" if spec.tasks_apart else f"{pkg}.{spec.app_module}"
    files[f"{pkg}/__init__.py"] = ""
    kwargs = [f"'{pkg}'", "broker='redis://localhost'"]
    if spec.backend:
        kwargs.append("backend='redis://localhost/1'")
    if spec.app_limit == "constructor":
        kwargs.append(f"task_time_limit={spec.app_limit_value}")
    if spec.include:
        kwargs.append(f"include=['{pkg}.tasks']")
    app = _Lines()
    app.add("from celery import Celery, shared_task", "")
    app_line = app.add(f"app = Celery({', '.join(kwargs)})")
    if spec.app_limit == "conf_attribute":
        app.add(f"app.conf.task_time_limit = {spec.app_limit_value}")
    elif spec.app_limit == "conf_update":
        app.add(f"app.conf.update(task_soft_time_limit={spec.app_limit_value}, task_acks_late=True)")
    elif spec.app_limit == "config_module":
        app.add(f"app.config_from_object('{pkg}.celeryconfig')")
        files[f"{pkg}/celeryconfig.py"] = f"task_time_limit = {spec.app_limit_value}\nworker_prefetch_multiplier = 1\n"
    decorators: Dict[str, Tuple[str, int]] = {}
    if spec.tasks_apart:
        tasks = _Lines()
        tasks.add("from celery import shared_task", "", f"from {pkg}.{spec.app_module} import app")
        _write_tasks(tasks, spec, f"{pkg}/tasks.py", decorators)
        files[f"{pkg}/tasks.py"] = tasks.text
    else:
        _write_tasks(app, spec, app_rel, decorators)
    files[app_rel] = app.text
    first = spec.tasks[0].name
    call = {
        "none": None,
        "fire_and_forget": f"    {first}.delay(x)\n    return None",
        "get": f"    return {first}.delay(x).get(timeout=10)",
        "apply_async_get": f"    return {first}.apply_async(args=(x,), countdown=5).get()",
        "local_status": f"    result = {first}.delay(x)\n    return result.status",
    }[spec.reads]
    if call is not None:
        files[f"{pkg}/views.py"] = f"from {tasks_module} import {first}\n\n\ndef view(x):\n{call}\n"
    if spec.procfile:
        flag = f" --time-limit={spec.app_limit_value}" if spec.app_limit == "worker_flag" else ""
        files["Procfile"] = f"worker: celery -A {pkg}.{spec.app_module} worker -l info{flag}\n"
    return files, decorators, (app_rel, app_line)


def _findings(root: Path) -> List[Tuple[str, int, int, str, str]]:
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    return [(f.path, f.line, f.col, f.code, f.message) for f in findings]


@settings(
    max_examples=30,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(celery_projects())
# Pinned cases, each exercised on every run whatever the draws: `time_limit=None` sets nothing;
# limits from a config module and from the worker command; results read via a local variable
# and via apply_async; @shared_task in a module apart; the app module named celery.py.
@example(CeleryProject("shop", "celery_app", False, False, False, "none", 1, False, "none", (TaskSpec("sync", False, False, "time_limit", None, ()),)))
@example(CeleryProject("shop", "celery", True, True, False, "config_module", 30, True, "local_status", (TaskSpec("sync", True, True, None, None, ()),)))
@example(CeleryProject("shop", "worker", True, False, True, "worker_flag", 30, True, "apply_async_get", (TaskSpec("a", False, False, None, None, ()), TaskSpec("b", True, False, "soft_time_limit", 9, ("queue='low'",)))))
@example(CeleryProject("shop", "app_factory", False, False, False, "none", 1, True, "apply_async_get", (TaskSpec("a", False, True, "soft_time_limit", 5, ()), TaskSpec("b", True, False, None, None, ()))))
def test_whole_pipeline_on_random_projects(tmp_path_factory, spec: CeleryProject) -> None:  # type: ignore[no-untyped-def]
    root: Path = tmp_path_factory.mktemp("fuzz")
    files, decorators, (app_rel, app_line) = build_celery_project(spec)
    for rel, text in files.items():
        if rel.endswith(".py"):
            compile(text, rel, "exec")  # the generator writes valid code only
    write_project(root, dict(files))

    # The model really holds the app and every task, each bound to that app.
    model = analyse([root], Settings(use_cache=False), jobs=1).project
    (definition,) = model.apps.values()
    assert (definition.module.rel, definition.loc.line) == (app_rel, app_line)
    assert sorted(task.function.name for task in model.tasks) == sorted(decorators)

    findings = _findings(root)
    assert findings == _findings(root)  # deterministic
    assert {code for _, _, _, code, _ in findings} <= set(ALL_CODES) - {"CEL000"}  # known codes; all the code is valid
    for path, line, col, _, _ in findings:
        lines = (root / path).read_text().splitlines()
        assert 1 <= line <= len(lines) and col >= 1, (path, line)

    # CEL006 exactly on the tasks with no limit of their own, when the app sets none either.
    app_limited = spec.app_limit != "none"
    expected_cel006 = {
        decorators[task.name] for task in spec.tasks if not app_limited and not (task.limit and task.limit_value)
    }
    assert {(path, line) for path, line, _, code, _ in findings if code == "CEL006"} == expected_cel006
    # CEL001 exactly when results are read and the app has no backend; it points at the app.
    reads = spec.reads in ("get", "apply_async_get", "local_status")
    expected_cel001 = {(app_rel, app_line)} if reads and not spec.backend else set()
    assert {(path, line) for path, line, _, code, _ in findings if code == "CEL001"} == expected_cel001
