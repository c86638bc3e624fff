"""CEL002: a module defines tasks that no worker imports."""

from __future__ import annotations

from typing import Dict, Iterator, List

from celerylint.model.project import Project, TaskDef, WorkerEntry
from celerylint.findings import Related
from celerylint.rules.base import Report, Rule, case, related_at, report


def _imported_elsewhere(project: Project, module: str) -> bool:
    used = project.graph.imported_by_non_test_code
    # A broken module that something imports may import this one: its imports are unknown.
    # One that nothing imports runs nowhere and hides nothing.
    if any(info.broken and not info.is_test and used(info.name) for info in project.index.modules()):
        return True
    return used(module)


def _evidence(project: Project, tasks: List[TaskDef], worker: WorkerEntry) -> List[Related]:
    related = []
    if worker.command is not None:
        origin = worker.command
        related.append(related_at(origin.rel, origin.line, origin.col, f"the worker command `celery -A {worker.spec}`"))
    for app in sorted(project.worker_apps(worker), key=lambda app: project.app_label(app)):
        for origin, what in project.registrations(app, worker):
            related.append(related_at(origin.rel, origin.line, origin.col, what))
        definition = project.apps[app]
        related.append(related_at(definition.module.rel, definition.loc.line, definition.loc.col, "the app the worker loads"))
    return related


def check(project: Project) -> Iterator[Report]:
    by_module: Dict[str, List[TaskDef]] = {}
    for task in project.tasks:
        if task.module.is_test:
            continue
        by_module.setdefault(task.module.name, []).append(task)
    for module, tasks in sorted(by_module.items()):
        first = min(tasks, key=lambda task: (task.decorator_loc.line, task.decorator_loc.col))
        workers: List[WorkerEntry] = []
        for task in tasks:
            workers.extend(w for w in project.workers_for(task.app) if w not in workers)
        if not workers:
            continue  # no worker loads this app: nothing to compare with
        if any(module in worker.closure.modules or worker.closure.uncertain for worker in workers):
            continue
        if not any(worker.explicit for worker in workers) and _imported_elsewhere(project, module):
            # No worker command was found, so the real entry point is a guess: a module that
            # other code imports may well be loaded by it (a CLI that builds the whole app).
            continue
        checked = workers[0]
        yield report(
            first.module.rel, first.decorator_loc,
            f"`celery -A {checked.spec}` never imports {module}: the worker rejects its tasks as unregistered, "
            "callers wait in PENDING",
            _evidence(project, tasks, checked),
            hint=f"Add '{module}' to the app's include=[...] (or imports), or import it from {checked.modules[0]}.",
        )


CEL002_INVALID = (
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery_app worker
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")
app.conf.task_time_limit = 60
# --- proj/reports.py
from proj.celery_app import app


@app.task  # expect: CEL002
def build_report(report_id):
    return report_id
'''
    ),
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery_app worker
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)
app.autodiscover_tasks(["proj.billing"])
# --- proj/billing/__init__.py
# --- proj/billing/tasks.py
from proj.celery_app import app


@app.task
def charge(order_id):
    return order_id
# --- proj/reports/__init__.py
# --- proj/reports/tasks.py
from proj.celery_app import app


@app.task  # expect: CEL002
def build(report_id):
    return report_id
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60, include=["proj.tasks"])
# --- proj/cli.py
import os


def worker(extra_args):
    args = ["celery", "-A", "proj.celery_app", "worker"]
    args += list(extra_args)
    os.execvp(args[0], args)
# --- proj/tasks.py
from proj.celery_app import app


@app.task
def sync(x):
    return x
# --- proj/reports.py
from proj.celery_app import app


@app.task  # expect: CEL002
def build(report_id):
    return report_id
# --- proj/views.py
from proj.reports import build  # the web process imports it; the worker (os.execvp above) never does


def start(report_id):
    build.delay(report_id)
'''
    ),
)
CEL002_VALID = (
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery_app worker
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", include=["proj.reports"])
app.conf.task_time_limit = 60
# --- proj/reports.py
from proj.celery_app import app


@app.task
def build_report(report_id):
    return report_id
'''
    ),
    case(
        r'''
# --- Procfile
worker: celery -A proj.worker worker
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)
# --- proj/worker.py
from proj.celery_app import app
import proj.reports  # the worker's entry module imports the task module
# --- proj/reports.py
from proj.celery_app import app


@app.task
def build(report_id):
    return report_id
'''
    ),
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery_app worker
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)
# --- tests/test_eager.py
from proj.celery_app import app


@app.task
def only_in_tests(x):
    return x
'''
    ),
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery_app worker -I proj.reports,proj.exports
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)
# --- proj/reports.py
from proj.celery_app import app


@app.task
def build(report_id):
    return report_id
'''
    ),
)


RULE = Rule(
    code="CEL002",
    name="unregistered-task-module",
    summary="A module defines tasks that no worker entry point imports.",
    what=(
        "For each module that defines tasks, follows what each worker that runs the task's app "
        "imports at start: the `-A` module's import closure (including functions it calls at import "
        "time), `include`/`imports`, `autodiscover_tasks()` and `import_modules` signal receivers. "
        "Reports a module none of them reaches. Worker entry points come from `[tool.celerylint] "
        "worker-apps`, else `celery ... worker` commands in Procfile, docker-compose, Makefile, "
        "scripts and README code blocks, else every module that creates an app."
    ),
    why=(
        "A task is registered only when its module is imported in the worker process. A message for "
        "an unknown task name is logged as `Received unregistered task of type ...` and discarded; "
        "the caller's result stays PENDING forever."
    ),
    fix="List the module in `include=` (or `imports`), or import it from the worker's entry module.",
    invalid=CEL002_INVALID,
    valid=CEL002_VALID,
    check=check,
)
