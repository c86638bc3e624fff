"""Workers as deployed. CEL015: a worker command whose app Celery cannot load. CEL018: a queue
no worker consumes. CEL019: a broker set only where the worker never runs, or another broker
than the web process's."""

from __future__ import annotations

import re
from typing import Iterator, List, Optional

from celerylint.facts.types import Loc
from celerylint.findings import Related
from celerylint.model.app_config import Origin
from celerylint.model.env_config import mask_password
from celerylint.model.project import Project, Seen, WebCommand, WorkerEntry
from celerylint.model.resolve import AppObj

CREDENTIALS = re.compile(r"^([A-Za-z][\w+.-]*://)[^@/\s]*@")
from celerylint.rules.base import Report, Rule, case, related_at, report


def check(project: Project) -> Iterator[Report]:
    for worker in project.workers:
        command = worker.command
        if command is None:
            continue  # declared in [tool.celerylint] worker-apps, or a guess: no command to fault
        problem = project.worker_app_problem(worker)
        if problem is not None:
            yield report(
                command.rel, Loc(command.line, command.col, command.line, command.col),
                f"`celery -A {worker.spec}` cannot load its app: {problem}; the worker exits, tasks wait in PENDING",
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
    case(
        r'''
# --- run.sh
#!/bin/sh
# celery -A proj.old_app worker   (retired: the app moved to proj.celery_app)
exec celery -A proj.celery_app worker
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)
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


def check_queues(project: Project) -> Iterator[Report]:
    """CEL018: a route to a queue that no worker of the task's app consumes."""
    workers = project.workers
    # Only when every worker is known: an explicit, resolved command with its options.
    if not workers or not all(w.explicit and w.resolved and w.command is not None and not w.closure.uncertain for w in workers):
        return
    for route in project.routes():
        for app in project.task_apps(route.task):
            runners = project.workers_for(app)
            consumed = [project.worker_queues(worker, app) for worker in runners]
            if not runners or any(queues is None for queues in consumed):
                continue
            if any(route.queue in queues for queues in consumed if queues is not None):
                continue
            related = [
                related_at(w.command.rel, w.command.line, w.command.col, f"the worker `celery -A {w.spec}` consumes {', '.join(sorted(queues)) or 'nothing'}")
                for w, queues in zip(runners, consumed) if w.command is not None and queues is not None
            ]
            yield report(
                route.origin.rel, Loc(route.origin.line, route.origin.col, route.origin.line, route.origin.col),
                f"'{route.task.name}' goes to queue '{route.queue}' ({route.how}), which no worker consumes: "
                "callers wait in PENDING",
                related,
                hint=f"Start a worker on it (`-Q {route.queue}`), add it to a worker's -Q, or route the task to a consumed queue.",
            )
            break


CEL018_INVALID = (
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery_app worker
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", include=["proj.tasks"], task_time_limit=60)
# --- proj/tasks.py
from proj.celery_app import app


@app.task(queue="reports")  # expect: CEL018
def export(report_id):
    return report_id
'''
    ),
    case(
        r'''
# --- docker-compose.yml
services:
  worker:
    command: celery -A proj.celery_app worker -Q celery,reports
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", include=["proj.tasks"], task_time_limit=60)
app.conf.task_routes = {"proj.tasks.send_*": {"queue": "mail"}}  # expect: CEL018
# --- proj/tasks.py
from proj.celery_app import app


@app.task
def send_welcome(user_id):
    return user_id


@app.task
def export(report_id):
    return report_id


def nightly(report_id):
    export.apply_async((report_id,), queue="slow")  # expect: CEL018
'''
    ),
)
CEL018_VALID = (
    case(
        r'''
# --- Procfile
web: gunicorn proj.wsgi
worker: celery -A proj.celery_app worker -Q reports,celery
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", include=["proj.tasks"], task_time_limit=60)
# --- proj/tasks.py
from proj.celery_app import app


@app.task(queue="reports")
def export(report_id):
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
from kombu import Queue

app = Celery("proj", broker="redis://", backend="redis://", include=["proj.tasks"], task_time_limit=60)
# A worker without -Q consumes every queue of task_queues.
app.conf.task_queues = [Queue("celery"), Queue("reports")]
app.conf.task_routes = [lambda name, args, kwargs, options, task=None, **kw: None]
# --- proj/tasks.py
from proj.celery_app import app


@app.task(queue="reports")
def export(report_id):
    return report_id
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

# No worker command anywhere: what the workers consume is not known.
app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task(queue="reports")
def export(report_id):
    return report_id
'''
    ),
)


QUEUE_RULE = Rule(
    code="CEL018",
    name="queue-without-worker",
    summary="A task is routed to a queue that no worker consumes.",
    what=(
        "Collects literal routes of the project's tasks: `@app.task(queue=...)`, `task_routes` "
        "entries (names or globs, to a queue name or `{\"queue\": ...}`) and `apply_async(queue=...)`. "
        "When every worker command is known, compares each route's queue with what the workers "
        "running the task's app consume: their `-Q` list minus `-X`, else every queue of "
        "`task_queues`, else `task_default_queue` (`celery`). Router functions and patterns are "
        "not followed; anything not literal stays silent."
    ),
    why=(
        "A worker consumes only its queues. Messages routed elsewhere wait in the broker for a "
        "worker that never comes: the caller sees PENDING forever, with no error anywhere."
    ),
    fix="Start a worker on that queue (`-Q reports`), add it to the worker's `-Q`, or route the task to a consumed queue.",
    invalid=CEL018_INVALID,
    valid=CEL018_VALID,
    check=check_queues,
)


def check_broker(project: Project) -> Iterator[Report]:
    """CEL019: the worker's view of an app has no broker, or another one than the web process's."""
    seen = set()
    for item in _broker_never_run(project):
        seen.add((item.path, item.loc.line))
        yield item
    # One finding a setting: a worker that never runs it is the first thing to fix.
    yield from (item for item in _broker_differs(project) if (item.path, item.loc.line) not in seen)


def _broker_never_run(project: Project) -> Iterator[Report]:
    """The broker is set only where the worker never runs."""
    if any(name == "CELERY_BROKER_URL" for name, _ in project.deploy.env_settings):
        return  # the environment may give the worker its broker
    for app in project.apps:
        state, setting = project.config(app).lookup("broker_url")
        if state != "set" or setting is None:
            continue
        for worker in project.workers_for(app):
            if not worker.explicit or worker.closure.uncertain or worker.value("broker") is not None or not worker.options_known:
                continue
            seen, _ = project.config(app, worker.closure.places()).lookup("broker_url")
            if seen != "not set":
                continue
            where = setting.origin
            related = [related_at(worker.command.rel, worker.command.line, worker.command.col, f"the worker `celery -A {worker.spec}`")] if worker.command else []
            yield report(
                where.rel, Loc(where.line, where.col, where.line, where.col),
                f"`celery -A {worker.spec}` never runs this broker setting: the worker uses "
                "amqp://guest@localhost// instead, so tasks wait in PENDING",
                related,
            )
            break


def _broker_differs(project: Project) -> Iterator[Report]:
    """A worker and a web process of one deployment get different brokers from their environments."""
    webs = project.web_commands
    if not webs:
        return
    reported = set()
    for command, env, worker in project.worker_commands():
        if worker.closure.uncertain or not worker.options_known or worker.value("broker") is not None:
            continue
        for app in project.apps_in(worker.closure):
            seen = project.setting_in_process(app, "broker_url", env, worker)
            if seen is None:
                continue
            for web in webs:
                if web.env.deployment != env.deployment:
                    continue
                published = project.setting_in_process(app, "broker_url", web.env)
                if published is None or not seen.differs(published) or not (seen.sources or published.sources):
                    continue
                where = _mismatch_location(project, app, worker, seen, published)
                key = (where, command.origin, web.origin)
                if where is None or key in reported:
                    continue
                reported.add(key)
                unset = project.environment.broker_variables(project.config(app))
                yield report(
                    where.rel, Loc(where.line, where.col, where.line, where.col),
                    _short(f"worker `-A {worker.spec}` consumes {_url(seen.text)} but web process ({web.server}) "
                           f"publishes to {_url(published.text)}: tasks wait in PENDING"),
                    _mismatch_evidence(command.origin, worker.spec, seen, web, published, unset),
                )
                break


def _mismatch_location(project: Project, app: AppObj, worker: WorkerEntry, seen: Seen, published: Seen) -> Optional[Origin]:
    """The broker setting when a value came through it, else the worker's variable (the web's
    when the worker sets none)."""
    if seen.via_code or published.via_code:
        for places in (worker.closure.places(), None):
            state, setting = project.config(app, places).lookup("broker_url")
            if state == "set" and setting is not None:
                return setting.origin
    for side in (seen, published):
        if side.sources:
            return side.sources[-1].origin
    return None


def _mismatch_evidence(worker_at: Origin, spec: str, seen: Seen, web: WebCommand, published: Seen, names: List[str]) -> List[Related]:
    """Both commands and the variable lines each value came from; a side that sets none of the
    variables the broker reads says so."""
    none = f", which sets none of {', '.join(names)}" if names else ""
    related = [related_at(worker_at.rel, worker_at.line, worker_at.col, f"the worker `celery -A {spec}`{'' if seen.sources else none}")]
    related += [related_at(v.origin.rel, v.origin.line, v.origin.col, f"the worker's {v.name}") for v in seen.sources]
    related.append(related_at(web.origin.rel, web.origin.line, web.origin.col, f"the web process ({web.server}){'' if published.sources else none}"))
    related += [related_at(v.origin.rel, v.origin.line, v.origin.col, f"the web process's {v.name}") for v in published.sources]
    return related


def _url(text: str) -> str:
    """A broker URL short enough for a message: without its credentials, cut at 40 characters."""
    shown = CREDENTIALS.sub(r"\1", mask_password(text))
    return repr(shown if len(shown) <= 40 else shown[:37] + "...")


def _short(message: str) -> str:
    return message if len(message) <= 150 else message[:147] + "..."


CEL019_INVALID = (
    case(
        r'''
# --- docker-compose.yml
services:
  web:
    build: .
    command: gunicorn proj.wsgi:application
    environment:
      - CELERY_BROKER_URL=redis://redis:6379/0
  worker:
    build: .
    command: celery -A proj worker
    environment:
      - CELERY_BROKER_URL=redis://redis:6379/1  # expect: CEL019
# --- proj/__init__.py
# --- proj/celery.py
from celery import Celery

app = Celery("proj", backend="redis://redis/1", task_time_limit=60)
'''
    ),
    case(
        r'''
# --- docker-compose.yml
x-app: &app
  build: .
services:
  web:
    <<: *app
    command: gunicorn proj.wsgi:application
  worker:
    <<: *app
    command: celery -A proj worker
    environment:
      REDIS_URL: redis://redis:6379/0
# --- proj/__init__.py
# --- proj/celery.py
import os

from celery import Celery

app = Celery("proj", backend="redis://redis/1", task_time_limit=60)
app.conf.broker_url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")  # expect: CEL019
'''
    ),
    case(
        r'''
# --- deploy/web.service
[Service]
Environment=BROKER=redis://cache:6379/0
ExecStart=/srv/venv/bin/gunicorn proj.wsgi
# --- deploy/worker.service
[Service]
ExecStart=/srv/venv/bin/celery -A proj worker
# --- proj/__init__.py
# --- proj/celery.py
from celery import Celery

from proj.settings import CELERY_BROKER

app = Celery("proj", broker=CELERY_BROKER, backend="redis://redis/1", task_time_limit=60)  # expect: CEL019
# --- proj/settings.py
import os

CELERY_BROKER = os.getenv("BROKER")
'''
    ),
    case(
        r'''
# --- Procfile
web: gunicorn wsgi:app
worker: celery -A proj.celery_app worker
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery
from flask import Flask

celery = Celery("proj", backend="redis://redis/1", task_time_limit=60)


def create_app():
    app = Flask(__name__)
    celery.conf.broker_url = "redis://redis/0"  # expect: CEL019
    return app
# --- wsgi.py
from proj.celery_app import create_app

app = create_app()
'''
    ),
)
CEL019_VALID = (
    case(
        r'''
# --- docker-compose.yml
x-env: &env
  CELERY_BROKER_URL: redis://redis:6379/0
services:
  web:
    build: .
    command: gunicorn proj.wsgi:application
    environment: *env
  worker:
    build: .
    command: celery -A proj worker
    environment: *env
# --- proj/__init__.py
# --- proj/celery.py
from celery import Celery

app = Celery("proj", backend="redis://redis/1", task_time_limit=60)
'''
    ),
    case(
        r'''
# --- Dockerfile
FROM python:3.12-slim
ENV REDIS_URL=redis://redis:6379/0
CMD ["gunicorn", "proj.wsgi"]
# --- docker-compose.yml
services:
  web:
    build: .
    command: gunicorn proj.wsgi
    environment:
      REDIS_URL: redis://redis:6379/0
  worker:
    build: .  # the image's ENV gives it REDIS_URL
    command: celery -A proj worker
# --- proj/__init__.py
# --- proj/celery.py
import os

from celery import Celery

app = Celery("proj", broker=os.getenv("REDIS_URL", "redis://localhost:6379/0"), task_time_limit=60)
'''
    ),
    case(
        r'''
# --- docker-compose.yml
services:
  web:
    build: .
    command: gunicorn proj.wsgi
    environment:
      REDIS_URL: redis://redis:6379/0
  worker:
    build: .
    command: celery -A proj worker
# --- proj/__init__.py
# --- proj/celery.py
import os

from celery import Celery
from dotenv import load_dotenv

load_dotenv()  # REDIS_URL may come from a .env file the image holds

app = Celery("proj", broker=os.getenv("REDIS_URL", "redis://localhost:6379/0"), task_time_limit=60)
'''
    ),
    case(
        r'''
# --- docker-compose.yml
services:
  billing:
    build: ./billing  # another code base, with its own broker
    command: gunicorn billing.wsgi
    environment:
      REDIS_URL: redis://redis:6379/5
  admin:
    build: .
    command: gunicorn adminpanel.wsgi  # not a module of this project
    environment:
      REDIS_URL: redis://redis:6379/6
  worker:
    build: .
    command: celery -A proj worker
    environment:
      REDIS_URL: redis://redis:6379/0
# --- proj/__init__.py
# --- proj/celery.py
import os

from celery import Celery

app = Celery("proj", broker=os.environ["REDIS_URL"], backend="redis://redis/1", task_time_limit=60)
'''
    ),
    case(
        r'''
# --- docker-compose.yml
services:
  web:
    build: .
    command: gunicorn proj.wsgi:application
    environment:
      REDIS_URL: redis://redis:6379/0
  worker:
    build: .
    command: celery -A proj worker
    env_file: .env.production  # may set REDIS_URL too: not known
  beat:
    build: .
    command: celery -A proj beat
    environment:
      REDIS_URL: ${REDIS_URL}
# --- Procfile
web: REDIS_URL=redis://cache:6379/0 gunicorn proj.wsgi
worker: celery -A proj worker
# --- proj/__init__.py
# --- proj/celery.py
import os

from celery import Celery

app = Celery("proj", backend="redis://redis/1", task_time_limit=60)
app.conf.broker_url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
'''
    ),
    case(
        r'''
# --- Procfile
worker: celery -A proj.worker worker
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery
from flask import Flask

celery = Celery("proj", backend="redis://redis/1", task_time_limit=60)


def create_app():
    app = Flask(__name__)
    celery.conf.broker_url = "redis://redis/0"
    return app
# --- proj/worker.py
from proj.celery_app import celery, create_app

create_app()  # the worker's entry module runs the factory too
'''
    ),
    case(
        r'''
# --- docker-compose.yml
services:
  worker:
    command: celery -A proj.celery_app worker
    environment:
      CELERY_BROKER_URL: redis://redis/0
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery
from flask import Flask

celery = Celery("proj", backend="redis://redis/1", task_time_limit=60)


def create_app():
    app = Flask(__name__)
    celery.conf.broker_url = "redis://redis/0"
    return app
'''
    ),
    case(
        r'''
# --- Procfile
worker: celery -A proj.celery_app worker -b redis://redis/0
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery
from flask import Flask

celery = Celery("proj", backend="redis://redis/1", task_time_limit=60)


def create_app():
    app = Flask(__name__)
    celery.conf.broker_url = "redis://redis/0"
    return app
'''
    ),
)


BROKER_RULE = Rule(
    code="CEL019",
    name="worker-broker-mismatch",
    summary="A worker gets no broker, or another one than the web process: set only where it never runs, or by environments that differ.",
    what=(
        "For each app whose broker is set somewhere, resolves the configuration as each known "
        "worker sees it (what its `-A` module imports and runs at start). Reports the setting when a "
        "worker's view has no broker: the broker is set only in an app factory or a module the "
        "worker never imports. Also reads the environment each deployed process starts with "
        "(compose `environment:` with anchors and merge keys, Procfile and script assignments, "
        "systemd `Environment=`, supervisor `environment=`) and follows settings that read it "
        "(`os.environ`, `os.getenv`, django-environ, `CELERY_BROKER_URL`, which Celery reads "
        "itself): reports when a worker and a web process (gunicorn, uwsgi, `flask run`, "
        "`manage.py runserver`, ...) of one deployment get different brokers, or one sets the "
        "variable and the other falls back to the default. Silent when the worker gets its broker "
        "another way (`-b`), when what it runs is not known, or when either environment is not "
        "all known (`env_file:`, `EnvironmentFile=`, `${VAR}` values, a dotenv file the code loads)."
    ),
    why=(
        "A worker with no broker configured connects to Celery's default "
        "`amqp://guest@localhost//` (or fails to connect); a worker given another broker URL "
        "than the web process (another host, another Redis database) consumes from an empty queue. "
        "Either way the worker never sees the messages the web app publishes and every task waits "
        "in PENDING, with no error anywhere."
    ),
    fix=(
        "Configure the broker where the app is created, or have the worker's module call the factory; "
        "give the worker and the web process the same broker variables (one anchor, one env file)."
    ),
    invalid=CEL019_INVALID,
    valid=CEL019_VALID,
    check=check_broker,
)
