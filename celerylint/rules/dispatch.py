"""Mistakes made where a task is sent. CEL013: every call sends the same task id."""

from __future__ import annotations

from typing import Iterator, Optional

from celerylint.facts.types import Attr, CallFact, Const, Ref, Value
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project
from celerylint.model.resolve import ValObj
from celerylint.rules.base import Report, Rule, case, report


def _sent(call: CallFact) -> Optional[Value]:
    """What `X.apply_async(...)` sends: X."""
    func = call.value.func
    if isinstance(func, Ref) and "." in func.path:
        return Ref(func.scope, func.path.rpartition(".")[0])
    if isinstance(func, Attr):
        return func.base
    return None


def _constant_text(project: Project, info: ModuleInfo, scope: str, value: Value) -> Optional[str]:
    """The string a value always is: a literal, or a name bound once to one (a module constant)."""
    if isinstance(value, Const):
        return value.value if isinstance(value.value, str) else None
    obj = project.resolve(info, scope, value)
    if isinstance(obj, ValObj) and isinstance(obj.value, Const) and isinstance(obj.value.value, str):
        return obj.value.value
    return None


def check(project: Project) -> Iterator[Report]:
    for info, call in project.calls_named("apply_async"):
        task_id = call.value.kwarg("task_id")
        sent = _sent(call)
        if task_id is None or sent is None or not project.is_canvas(info, call.scope, sent):
            continue
        fixed = _constant_text(project, info, call.scope, task_id)
        if fixed is not None:
            yield report(
                info.rel, call.arg_loc("task_id"),
                f"every call sends task id {fixed!r}: results of later runs are dropped or mixed up, "
                "and after revoke() the worker discards every later run",
                hint="Let Celery choose the id.",
            )


CEL013_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def build_report(day):
    return day
# --- proj/views.py
from proj.tasks import build_report


def nightly(day):
    return build_report.apply_async((day,), task_id="nightly-report")  # expect: CEL013
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)
SYNC_ID = "inventory-sync"


@app.task
def sync(store_id):
    return store_id


def schedule(store_id):
    sync.s(store_id).apply_async(countdown=60, task_id=SYNC_ID)  # expect: CEL013
'''
    ),
)
CEL013_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from uuid import uuid4

from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def build_report(day):
    return day


def nightly(day, request_id):
    build_report.apply_async((day,), task_id=str(uuid4()))
    build_report.apply_async((day,), task_id=f"report-{day}")
    build_report.apply_async((day,), task_id=request_id)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/jobs.py
from multiprocessing import Pool


def square(x):
    return x * x


def run(pool: Pool):
    return pool.apply_async(square, (3,), task_id="not-celery")
'''
    ),
)


RULE = Rule(
    code="CEL013",
    name="fixed-task-id",
    summary="apply_async(task_id=...) with a constant: every call shares one task id.",
    what=(
        "Finds `apply_async(..., task_id=...)` on a task or a signature where the id is a string "
        "literal or a name bound to one (a module constant). Silent for ids made at run time: "
        "`uuid4()`, f-strings, parameters."
    ),
    why=(
        "A task id names one run. With the same id on every call, key-value result backends (Redis, "
        "file) keep the first result and drop the later ones, `AsyncResult(id)` reads whichever run "
        "wrote last, and after `revoke(id)` every worker discards each later task with that id, "
        "forever, while the caller waits in PENDING."
    ),
    fix="Drop `task_id=` (Celery makes a uuid), or build it from what makes the run unique.",
    invalid=CEL013_INVALID,
    valid=CEL013_VALID,
    check=check,
)
