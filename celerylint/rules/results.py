"""CEL001: results are read, but the app stores none."""

from __future__ import annotations

from typing import Iterator, List, Optional

from celerylint.facts.types import Const, Loc
from celerylint.findings import Related
from celerylint.model.app_config import Origin
from celerylint.model.project import CHORD_READ, Project, WorkerEntry
from celerylint.model.resolve import AppObj
from celerylint.rules.base import Report, Rule, case, related_at, report

def check(project: Project) -> Iterator[Report]:
    reads = list(project.result_reads())
    if not reads:
        return
    first = reads[0]
    read_at, read_what = f"{first.module.rel}:{first.loc.line}", first.what
    evidence = [related_at(read.module.rel, read.loc.line, read.loc.col, f"a result is read here ({read.what})") for read in reads]
    env_backend = [origin for name, origin in project.deploy.env_settings if name == "CELERY_RESULT_BACKEND"]
    if env_backend:
        return
    for app, definition in sorted(project.apps.items(), key=lambda item: (item[1].module.rel, item[1].loc.line)):
        path = definition.module.rel
        state, setting = project.config(app).lookup("result_backend")
        if state == "not set":
            yield report(path, definition.loc,
                "Celery app has no result backend, "
                + (
                    f"but {read_at} starts a chord, which raises NotImplementedError without one"
                    if read_what == CHORD_READ
                    else f"but {read_at} reads a result: it never arrives (PENDING forever, or an error in Celery 5.7)"
                ),
                evidence,
                hint="Pass backend='redis://...' to Celery() or set result_backend (or CELERY_RESULT_BACKEND in the environment).",
            )
        elif state == "set" and setting is not None:
            finding = _worker_without_backend(project, app, definition.loc, path, setting.origin, read_at, evidence)
            if finding is not None:
                yield finding


def _worker_without_backend(
    project: Project, app: AppObj, loc: Loc, path: str, set_at: Origin, read_at: str, evidence: List[Related]
) -> Optional[Report]:
    for worker in project.workers_for(app):
        if not worker.explicit or worker.closure.uncertain or "--result-backend" in worker.options or not worker.options_known:
            continue
        state, _ = project.config(app, worker.closure.places()).lookup("result_backend")
        if state == "not set":
            return report(path, loc,
                f"`celery -A {worker.spec}` never runs {set_at}, which sets the result backend: "
                "the worker stores no results, reads stay PENDING",
                _worker_evidence(worker, set_at) + evidence,
                hint="Configure the app where it is created, or have the worker module call the factory that configures it.",
            )
    return None


def _worker_evidence(worker: WorkerEntry, set_at: Origin) -> List[Related]:
    related = [related_at(set_at.rel, set_at.line, set_at.col, "the result backend is set here, where the worker never runs")]
    if worker.command is not None:
        command = worker.command
        related.append(related_at(command.rel, command.line, command.col, f"the worker command `celery -A {worker.spec}`"))
    return related


CEL001_INVALID = (
    case(
        r'''
# --- proj/celery_app.py
from celery import Celery

celery = Celery("proj", broker="redis://localhost")  # expect: CEL001


@celery.task(time_limit=30)
def add(x, y):
    return x + y
# --- proj/views.py
from proj.celery_app import add


def total():
    result = add.delay(1, 2)
    return result.get(timeout=5)
'''
    ),
    case(
        r'''
# --- shop/__init__.py
# --- shop/celery_app.py
from celery import Celery

celery = Celery("shop", broker="redis://localhost", task_time_limit=60)  # expect: CEL001
# --- shop/views.py
from shop.celery_app import celery


def status(task_id):
    return celery.AsyncResult(task_id).state
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery, chord, group

app = Celery("proj", broker="redis://", task_time_limit=60)  # expect: CEL001


@app.task
def fetch(url):
    return url


@app.task
def merge(pages):
    return pages
# --- proj/crawl.py
from celery import chord, group

from proj.celery_app import fetch, merge


def crawl(urls):
    chord(fetch.s(url) for url in urls)(merge.s())


def crawl_piped(urls):
    (group(fetch.s(url) for url in urls) | merge.s()).apply_async()
'''
    ),
)
CEL001_VALID = (
    case(
        r'''
# --- proj/celery_app.py
from celery import Celery

celery = Celery("proj", broker="redis://localhost", backend="redis://localhost/1")


@celery.task(time_limit=30)
def add(x, y):
    return x + y
# --- proj/views.py
from proj.celery_app import add


def total():
    result = add.delay(1, 2)
    return result.get(timeout=5)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", task_time_limit=60)


@app.task
def add(x, y):
    return x + y
# --- tests/test_add.py
from proj.celery_app import add


def test_add():
    assert add.delay(1, 2).get() == 3
'''
    ),
    case(
        r'''
# --- docker-compose.yml
services:
  worker:
    command: celery -A proj.celery_app worker
    environment:
      - CELERY_RESULT_BACKEND=redis://redis:6379/1
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", task_time_limit=60)


@app.task
def add(x, y):
    return x + y
# --- proj/views.py
from proj.celery_app import add


def total():
    return add.delay(1, 2).get(timeout=5)
'''
    ),
)


RULE = Rule(
    code="CEL001",
    name="missing-result-backend",
    summary="Task results are read, but the Celery app has no result backend.",
    what=(
        "Finds Celery apps with no result backend (no `backend=`, no `result_backend` or "
        "`CELERY_RESULT_BACKEND` in any configuration source the worker runs) in a project that "
        "reads task results: `AsyncResult(...)`, or `.get()`, `.state`, `.ready()`... on what "
        "`.delay()` / `.apply_async()` returned, or starts a chord (`chord(...)(...)`, a group piped "
        "into a task), which joins its header's results in the backend."
    ),
    why=(
        "Without a backend Celery uses `DisabledBackend`: results are dropped. `AsyncResult.state` "
        "reports PENDING forever on older releases and raises `AttributeError: 'DisabledBackend' "
        "object has no attribute '_get_task_meta_for'` on Celery 5.7; `.get()` raises "
        "`NotImplementedError`. When the backend is set only in an app factory the worker never "
        "calls, the web process can read results but the worker never writes them."
    ),
    fix="Configure a result backend where the app is created, so the worker sees it too.",
    invalid=CEL001_INVALID,
    valid=CEL001_VALID,
    check=check,
)


def check_ignored(project: Project) -> Iterator[Report]:
    """CEL008: a read of a result that its task never stores."""
    for read in project.result_reads():
        if read.producer is None:
            continue
        task = project.sent_task(read.module, read.scope, read.producer)
        if task is None:
            continue
        per_call = read.producer.kwarg("ignore_result")
        if isinstance(per_call, Const) and per_call.value is True:
            answer, where = "yes", None
        elif per_call is not None:
            continue  # decided per call, at run time or to store it
        else:
            answer, where = project.ignores_result(task)
        if answer != "yes":
            continue
        decorator = task.decorator_loc
        related = [related_at(task.module.rel, decorator.line, decorator.col, f"the task '{task.name}'")]
        if where is not None:
            related.append(related_at(where.rel, where.line, where.col, "results are ignored here"))
        yield report(
            read.module.rel, read.loc,
            f"reads {read.what} of {task.function.qualname}(), which ignores its results: "
            ".state stays PENDING, .get() returns None or waits for its timeout",
            related,
        )


CEL008_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task(ignore_result=True)
def export(report_id):
    return report_id
# --- proj/views.py
from proj.tasks import export


def start(report_id):
    result = export.delay(report_id)
    return result.state  # expect: CEL008
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60, task_ignore_result=True)


@app.task
def export(report_id):
    return report_id
# --- proj/views.py
from proj.tasks import export


def start(report_id):
    return export.apply_async((report_id,)).get(timeout=10)  # expect: CEL008
'''
    ),
)
CEL008_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60, task_ignore_result=True)


@app.task(ignore_result=False)
def export(report_id):
    return report_id


@app.task
def cleanup():
    pass
# --- proj/views.py
from proj.tasks import cleanup, export


def start(report_id, options):
    cleanup.delay()  # fire and forget: nothing read
    status = options.get("status")  # dict.get is no task result
    return export.delay(report_id).get(timeout=10), status
'''
    ),
)


IGNORED_RULE = Rule(
    code="CEL008",
    name="ignored-result-read",
    summary="A task's result is read, but the task's results are never stored (ignore_result).",
    what=(
        "Finds reads (`.get()`, `.state`, `.result`, `.ready()`...) of what `.delay()` or "
        "`.apply_async()` returned for a task whose results are ignored: `ignore_result=True` on the "
        "task or in that `apply_async` call, or `task_ignore_result=True` in its app's configuration "
        "without `ignore_result=False` on the task."
    ),
    why=(
        "An ignored result is never written to the backend. `.state` stays PENDING forever, "
        "`AsyncResult(id).get()` blocks until its timeout, and `.delay(...).get()` returns `None` at "
        "once, so the caller acts on a result that never existed."
    ),
    fix="Store the result for this task (`ignore_result=False`) or stop reading it.",
    invalid=CEL008_INVALID,
    valid=CEL008_VALID,
    check=check_ignored,
)
