"""CEL015: a worker command whose app Celery cannot load."""

from __future__ import annotations

from typing import Iterator

from celerylint.facts.types import Loc
from celerylint.model.project import Project
from celerylint.rules.base import Report, Rule, case, report


def check(project: Project) -> Iterator[Report]:
    for worker in project.workers:
        command = worker.command
        if command is None:
            continue  # declared in [tool.celerylint] worker-apps, or a guess: no command to fault
        problem = project.worker_app_problem(worker)
        if problem is not None:
            yield report(
                command.rel, Loc(command.line, command.col, command.line, command.col),
                f"`celery -A {worker.spec}` cannot load its app: {problem}, so the worker exits with "
                "'Unable to load celery application' and every task waits in PENDING.",
            )


CEL015_INVALID = (
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery worker  # expect: CEL015
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)
'''
    ),
    case(
        r'''
# --- docker-compose.yml
services:
  worker:
    command: celery -A proj.celery_app:application worker --loglevel=info  # expect: CEL015
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)
'''
    ),
)
CEL015_VALID = (
    case(
        r'''
# --- Procfile
worker: celery -A proj worker
# --- proj/__init__.py
# --- proj/celery.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)
'''
    ),
    case(
        r'''
# --- Makefile
worker:
	celery -A proj.celery_app:app worker
docs-worker:
	celery -A some_installed_service worker
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)
'''
    ),
    case(
        r'''
# --- Procfile
worker: celery -A proj.factory worker
# --- proj/__init__.py
# --- proj/factory.py
from proj.settings import *  # the app may come from here: not known, so silent
'''
    ),
)


RULE = Rule(
    code="CEL015",
    name="worker-app-not-found",
    summary="A `celery -A X worker` command names an app that does not exist in the project.",
    what=(
        "Resolves the `-A`/`--app` value of each worker command in Procfile, docker-compose, "
        "Makefile, shell scripts, ini/service files and README code blocks the way Celery's "
        "`find_app` does: `module:attr`, `module.attr`, or a module in which Celery looks for `app`, "
        "`celery`, a `.celery` submodule or any Celery instance. Reports the command when the value's "
        "top-level package is part of the project but the module or attribute does not exist. "
        "Silent when a module's names are not all known (star imports, `__getattr__`)."
    ),
    why=(
        "The worker exits at start with `Error: Invalid value for '-A' / '--app': Unable to load "
        "celery application`. Nothing consumes the queue, so every task the web app sends waits in "
        "PENDING; a supervisor that restarts the worker hides it in a crash loop."
    ),
    fix="Point `-A` at the module that creates the app (`proj.celery_app` or `proj.celery_app:app`).",
    invalid=CEL015_INVALID,
    valid=CEL015_VALID,
    check=check,
)
