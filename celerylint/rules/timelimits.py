"""CEL006: a task that may run forever."""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from celerylint.facts.types import Const, Value

from celerylint.model.app_config import ResolvedConfig
from celerylint.model.project import Project, TaskDef, WorkerEntry
from celerylint.model.resolve import AppObj
from celerylint.rules.base import Report, Rule, case, related_at, report

LIMIT_OPTIONS = ("time_limit", "soft_time_limit")
WORKER_LIMIT_FLAGS = ("--time-limit", "--soft-time-limit")


def _base_has_limit(project: Project, task: TaskDef) -> bool:
    classes, known = project.task_base_classes(task)
    if not known:
        return True
    for cls in classes:
        for option in LIMIT_OPTIONS:
            if project.resolver.class_attr(cls, option) is not None:
                return True
    return False


def _config_allows_silence(project: Project, task: TaskDef) -> bool:
    """True when some source gives (or may give) a limit: then stay silent."""
    apps = project.task_apps(task)
    if not apps:
        return True
    for app in apps:
        workers = project.workers_for(app)
        if any(any(flag in worker.options for flag in WORKER_LIMIT_FLAGS) or not worker.options_known for worker in workers):
            return True
        for config in _views(project, app, workers):
            for name in ("task_time_limit", "task_soft_time_limit", "task_annotations"):
                state, _ = config.lookup(name)
                if state != "not set":
                    return True
    return False


def _views(project: Project, app: AppObj, workers: List[WorkerEntry]) -> List[ResolvedConfig]:
    """The app's configuration as each worker that runs it sees it: a limit set only where no
    worker runs (an app factory the web process calls) limits nothing. With no worker known for
    sure, the configuration as any process could see it."""
    if workers and all(worker.explicit and not worker.closure.uncertain for worker in workers):
        return [project.config(app, worker.closure.places()) for worker in workers]
    return [project.config(app)]


def const_is_set(value: Optional[Value]) -> bool:
    """A decorator option given a real value (not None, not 0)."""
    if value is None:
        return False
    if isinstance(value, Const):
        return value.value not in (None, 0, False)
    return True


# Pools that never enforce a time limit (celery/concurrency/: solo runs tasks inline; threads and
# eventlet take no timeout in on_apply). prefork enforces both limits, gevent the hard one.
POOLS_WITHOUT_LIMITS = frozenset({"solo", "threads", "eventlet"})


def _unlimited_pools(project: Project, task: TaskDef) -> List[Tuple[WorkerEntry, str]]:
    """The workers running the task's apps, with their pools, when every one of them ignores
    time limits (`-P solo|threads|eventlet`, or worker_pool as the worker sees it); else []."""
    found: List[Tuple[WorkerEntry, str]] = []
    for app in project.task_apps(task):
        for worker in project.workers_for(app):
            pool = worker.value("pool")
            if pool is None:
                state, setting = project.config(app, worker.closure.places()).lookup("worker_pool")
                pool = setting.value.value if setting is not None and isinstance(setting.value, Const) and isinstance(setting.value.value, str) else None
                if state == "unknown" or (state == "set" and pool is None):
                    return []
            if not worker.explicit or not worker.options_known or pool is None or pool not in POOLS_WITHOUT_LIMITS:
                return []
            found.append((worker, pool))
    return found


def check(project: Project) -> Iterator[Report]:
    for task in project.tasks:
        if task.module.is_test:
            continue
        pools = _unlimited_pools(project, task)
        if pools:
            worker, pool = pools[0]
            command = worker.command
            yield report(
                task.module.rel, task.decorator_loc,
                f"task {task.function.qualname}() runs on `--pool {pool}`, which enforces no time limit: "
                "a call that hangs holds a worker slot forever",
                [related_at(command.rel, command.line, command.col, f"the worker `celery -A {worker.spec}`")] if command else [],
                hint="Use the prefork (or gevent) pool.",
            )
            continue
        if any(const_is_set(task.option(option)) for option in LIMIT_OPTIONS):
            continue
        if _base_has_limit(project, task) or _config_allows_silence(project, task):
            continue
        yield report(
            task.module.rel, task.decorator_loc,
            f"task {task.function.qualname}() and its app set no time limit: a call that hangs holds a worker process forever",
            [
                related_at(d.module.rel, d.loc.line, d.loc.col, "its app, created here with no task_time_limit")
                for d in (project.apps[app] for app in project.task_apps(task))
            ],
            hint="Add soft_time_limit=/time_limit= to the decorator, or set task_soft_time_limit/task_time_limit in the app's configuration.",
        )


CEL006_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task  # expect: CEL006
def sync_inventory():
    pass
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")
# --- proj/tasks.py
from celery import shared_task


@shared_task  # expect: CEL006
def sync_inventory():
    pass
'''
    ),
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery_app worker --pool threads --concurrency 8
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=300, include=["proj.tasks"])
# --- proj/tasks.py
from proj.celery_app import app


@app.task(time_limit=60)  # expect: CEL006
def sync_inventory():
    pass
'''
    ),
)
CEL006_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(soft_time_limit=50, time_limit=60)
def sync_inventory():
    pass
'''
    ),
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery_app worker --time-limit 300
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task
def sync_inventory():
    pass
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")
app.conf.task_time_limit = 300


@app.task
def sync_inventory():
    pass
'''
    ),
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery_app worker -P gevent -c 100
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=300, include=["proj.tasks"])
# --- proj/tasks.py
from proj.celery_app import app


@app.task
def sync_inventory():
    pass
'''
    ),
)


RULE = Rule(
    code="CEL006",
    name="missing-time-limit",
    summary="A task with no time limit, in an app whose configuration sets none.",
    what=(
        "Reports tasks with neither `time_limit` nor `soft_time_limit` (decorator or Task base), "
        "whose app's resolved configuration has no `task_time_limit` / `task_soft_time_limit` "
        "(or old names such as `CELERYD_TASK_TIME_LIMIT`) and whose worker command passes no "
        "`--time-limit`. Silent when the app's configuration comes from something celerylint "
        "cannot read. Also reports tasks whose every worker runs a pool that enforces no time "
        "limit at all (`--pool solo`, `threads` or `eventlet`; prefork enforces both limits and "
        "gevent the hard one), whatever limit is set."
    ),
    why=(
        "Both limits default to None. A task blocked on a network call or a lock then occupies a "
        "worker slot forever; enough of them and the worker stops consuming, so new tasks sit in "
        "PENDING."
    ),
    fix="Set a soft limit to clean up and a hard limit to recover the process.",
    invalid=CEL006_INVALID,
    valid=CEL006_VALID,
    check=check,
)
