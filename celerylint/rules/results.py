"""CEL001: results are read, but the app stores none."""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from celerylint.facts.types import RESULT_ATTRS, Attr, Call, Loc, Ref, Value
from celerylint.model.modules import ModuleInfo
from celerylint.findings import Related
from celerylint.model.config import Origin
from celerylint.model.project import Project, WorkerEntry
from celerylint.model.resolve import AppObj, AttrOf, ExtObj
from celerylint.findings import Finding
from celerylint.rules.base import Rule, example, finding_at, related_at
from celerylint.rules.common import local_value

ASYNC_RESULT = frozenset({"celery.result.AsyncResult", "celery.AsyncResult"})
RESULT_PRODUCERS = frozenset({"delay", "apply_async", "AsyncResult"})


def _produces_result(value: Optional[Value]) -> bool:
    if not isinstance(value, Call):
        return False
    func = value.func
    name = func.last if isinstance(func, Ref) else func.attr if isinstance(func, Attr) else ""
    return name in RESULT_PRODUCERS


def result_reads(project: Project) -> Iterator[Tuple[ModuleInfo, Loc, str]]:
    """Every place that reads a task's state or result, in source order per file."""
    for info in sorted(project.index.modules(), key=lambda m: m.rel):
        if info.is_test:
            continue  # tests run tasks eagerly: their results need no backend
        facts = info.facts
        for call in facts.calls:
            func = call.value.func
            if isinstance(func, Ref) and func.last == "AsyncResult":
                obj = project.resolve(info, call.scope, func)
                if (isinstance(obj, ExtObj) and obj.path in ASYNC_RESULT) or (
                    isinstance(obj, AttrOf) and obj.path == "AsyncResult" and project.apps_of(obj.base)
                ):
                    yield info, call.loc, "AsyncResult(...)"
            elif isinstance(func, Attr) and func.attr in RESULT_ATTRS and _produces_result(func.base):
                yield info, call.loc, f".{func.attr}() on a task result"
        for use in facts.uses:
            ref = use.ref
            if ref.scope == "local" and ref.path.count(".") == 1 and ref.last in RESULT_ATTRS:
                holder = ref.path.split(".", 1)[0]
                if _produces_result(local_value(project, info, use.scope, holder)):
                    yield info, use.loc, f"{ref.path}"


def check(project: Project) -> Iterator[Finding]:
    reads = list(result_reads(project))
    if not reads:
        return
    read_info, read_loc, read_what = reads[0]
    read_at = f"{read_info.rel}:{read_loc.line}"
    evidence = [related_at(info.rel, loc.line, loc.col, f"a result is read here ({what})") for info, loc, what in reads]
    env_backend = [origin for name, origin in project.deploy.env_settings if name == "CELERY_RESULT_BACKEND"]
    if env_backend:
        return
    for app, definition in sorted(project.apps.items(), key=lambda item: (item[1].module.rel, item[1].loc.line)):
        path = definition.module.rel
        state, setting = project.config(app).lookup("result_backend")
        if state == "not set":
            yield finding_at(
                "CEL001", path, definition.loc,
                f"Celery app has no result backend, but results are read at {read_at} ({read_what}): "
                "nothing is stored, so the caller sees PENDING forever (or AttributeError on "
                "DisabledBackend in Celery 5.7). Pass backend='redis://...' to Celery() or set "
                "result_backend (or CELERY_RESULT_BACKEND in the environment).",
                evidence,
            )
        elif state == "set" and setting is not None:
            finding = _worker_without_backend(project, app, definition.loc, path, setting.origin, read_at, evidence)
            if finding is not None:
                yield finding


def _worker_without_backend(
    project: Project, app: AppObj, loc: Loc, path: str, set_at: Origin, read_at: str, evidence: List[Related]
) -> Optional[Finding]:
    for worker in project.workers_for(app):
        if not worker.explicit or worker.closure.uncertain or "--result-backend" in worker.options:
            continue
        state, _ = project.config(app, worker.closure.places()).lookup("result_backend")
        if state == "not set":
            return finding_at(
                "CEL001", path, loc,
                f"the worker `celery -A {worker.spec}` ({worker.origin}) never runs the code at {set_at} "
                f"that sets the result backend, so it stores no results and the reads at {read_at} "
                "stay PENDING forever. Configure the app where it is created, or have the worker "
                "module call the factory that configures it.",
                _worker_evidence(worker, set_at) + evidence,
            )
    return None


def _worker_evidence(worker: WorkerEntry, set_at: Origin) -> List[Related]:
    related = [related_at(set_at.rel, set_at.line, set_at.col, "the result backend is set here, where the worker never runs")]
    if worker.command is not None:
        command = worker.command
        related.append(related_at(command.rel, command.line, command.col, f"the worker command `celery -A {worker.spec}`"))
    return related


RULE = Rule(
    code="CEL001",
    name="missing-result-backend",
    summary="Task results are read, but the Celery app has no result backend.",
    what=(
        "Finds Celery apps with no result backend (no `backend=`, no `result_backend` or "
        "`CELERY_RESULT_BACKEND` in any configuration source the worker runs) in a project that "
        "reads task results: `AsyncResult(...)`, or `.get()`, `.state`, `.ready()`... on what "
        "`.delay()` / `.apply_async()` returned."
    ),
    why=(
        "Without a backend Celery uses `DisabledBackend`: results are dropped. `AsyncResult.state` "
        "reports PENDING forever on older releases and raises `AttributeError: 'DisabledBackend' "
        "object has no attribute '_get_task_meta_for'` on Celery 5.7; `.get()` raises "
        "`NotImplementedError`. When the backend is set only in an app factory the worker never "
        "calls, the web process can read results but the worker never writes them."
    ),
    fix="Configure a result backend where the app is created, so the worker sees it too.",
    bad=example(
        ("proj/celery_app.py", 'from celery import Celery\n\ncelery = Celery("proj", broker="redis://localhost")\n\n\n@celery.task(time_limit=30)\ndef add(x, y):\n    return x + y\n'),
        ("proj/views.py", "from proj.celery_app import add\n\n\ndef total():\n    result = add.delay(1, 2)\n    return result.get(timeout=5)\n"),
    ),
    good=example(
        ("proj/celery_app.py", 'from celery import Celery\n\ncelery = Celery("proj", broker="redis://localhost", backend="redis://localhost/1")\n\n\n@celery.task(time_limit=30)\ndef add(x, y):\n    return x + y\n'),
        ("proj/views.py", "from proj.celery_app import add\n\n\ndef total():\n    result = add.delay(1, 2)\n    return result.get(timeout=5)\n"),
    ),
    check=check,
)
