"""CEL003 and CEL004: Flask state used in a task where a worker has none."""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from celerylint.facts.types import UseFact
from celerylint.findings import Related
from celerylint.model.flask import needs_app_context, needs_request, real_app_context
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project, TaskDef
from celerylint.rules.base import Report, Rule, case, related_at, report


def _covered(project: Project, info: ModuleInfo, use: UseFact) -> bool:
    """Inside `with X.app_context():` in the task itself."""
    return any(real_app_context(project.graph, info, use.scope, receiver) for receiver in use.contexts)


def _context_evidence(project: Project, task: TaskDef) -> List[Related]:
    """Where a context could have come from: the task's decorator, its app's Task base."""
    loc = task.decorator_loc
    related = [related_at(task.module.rel, loc.line, loc.col, f"the task '{task.name}', with no base that pushes an app context")]
    for app in project.task_apps(task):
        definition = project.apps[app]
        related.append(related_at(definition.module.rel, definition.loc.line, definition.loc.col, "its app, whose Task class pushes no app context"))
        for item in project.task_classes(app):
            related.append(related_at(item.module.rel, item.loc.line, item.loc.col, "the app's Task class is set here"))
    return related


def check_app_context(project: Project) -> Iterator[Report]:
    for task in project.tasks:
        if not task.module.facts.detailed:
            continue
        first: Optional[Tuple[UseFact, str]] = None
        for use in project.task_uses(task):
            if _covered(project, task.module, use):
                continue
            label = needs_app_context(project.graph, task.module, use, project.sqlalchemy_needs_context)
            if label is not None:
                first = (use, label)
                break
        if first is None or project.has_app_context(task):
            continue
        use, label = first
        where = "" if use.scope == task.function.qualname else f" in {use.scope}()"
        yield report(
            task.module.rel, use.loc,
            f"task {task.function.qualname}() uses {label}{where} with no Flask app context: "
            "the worker raises 'Working outside of application context'",
            _context_evidence(project, task),
            hint="Give the app a Task base whose __call__ runs `with flask_app.app_context():` (task_cls=, or "
            "Flask's celery_init_app pattern), or wrap the body in `with flask_app.app_context():`.",
        )


def check_request_context(project: Project) -> Iterator[Report]:
    for task in project.tasks:
        if not task.module.facts.detailed:
            continue
        for use in project.task_request_uses(task):
            label = needs_request(project.graph, task.module, use)
            if label is None:
                continue
            # flask_login answers None outside a request; flask's request, session, flash() raise.
            outcome = "it is None there" if "current_user" in label else "it raises 'Working outside of request context'"
            yield report(task.module.rel, use.loc,
                f"task {task.function.qualname}() uses {label}, but a worker has no request, even in an app context: {outcome}",
                hint="Read what you need in the view and pass it as a task argument (e.g. user_id).",
            )
            break


CONTEXT_GOOD_BASE = '''from celery import Celery, Task
from flask import Flask

from proj.extensions import db

flask_app = Flask(__name__)


class FlaskTask(Task):
    def __call__(self, *args, **kwargs):
        with flask_app.app_context():
            return self.run(*args, **kwargs)


celery = Celery("proj", broker="redis://", backend="redis://", task_cls=FlaskTask)


@celery.task(time_limit=60)
def purge(user_id):
    db.session.execute(db.delete("sessions").where(user_id=user_id))
'''

CEL003_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/extensions.py
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
# --- proj/celery_app.py
from celery import Celery, Task
from flask import Flask

from proj.extensions import db

flask_app = Flask(__name__)


class FlaskTask(Task):
    def __call__(self, *args, **kwargs):
        with flask_app.app_context():
            return self.run(*args, **kwargs)


celery = Celery("proj", broker="redis://", backend="redis://")


@celery.task(time_limit=60)
def purge(user_id):
    db.session.execute(db.delete("sessions").where(user_id=user_id))  # expect: CEL003
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery, Task
from flask import Flask, current_app

flask_app = Flask(__name__)


class ContextTask(Task):
    def __call__(self, *args, **kwargs):
        # current_app needs a context itself: this pushes nothing in a worker.
        with current_app.app_context():
            return self.run(*args, **kwargs)


celery = Celery("proj", broker="redis://", backend="redis://", task_cls=ContextTask)


@celery.task(time_limit=60)
def greet():
    return current_app.config["GREETING"]  # expect: CEL003
'''
    ),
    case(
        r'''
# --- requirements.txt
celery==5.4.0
Flask-SQLAlchemy==3.1.1
# --- proj/__init__.py
# --- proj/models.py
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class Report(db.Model):
    id = db.Column(db.Integer, primary_key=True)
# --- proj/celery_app.py
from celery import Celery
from flask import Flask

from proj.models import Report, db

celery = Celery("proj", broker="redis://", backend="redis://")


def create_app():
    app = Flask(__name__)
    db.init_app(app)
    db.app = app  # Flask-SQLAlchemy 2.x: bound, it needs no app context
    return app


flask_app = create_app()


@celery.task(time_limit=60)
def count():
    return Report.query.count()  # expect: CEL003
'''
    ),
)
CEL003_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/extensions.py
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
# --- proj/celery_app.py
from celery import Celery, Task
from flask import Flask

from proj.extensions import db

flask_app = Flask(__name__)


class FlaskTask(Task):
    def __call__(self, *args, **kwargs):
        with flask_app.app_context():
            return self.run(*args, **kwargs)


celery = Celery("proj", broker="redis://", backend="redis://", task_cls=FlaskTask)


@celery.task(time_limit=60)
def purge(user_id):
    db.session.execute(db.delete("sessions").where(user_id=user_id))
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery
from flask import Flask, current_app

flask_app = Flask(__name__)
celery = Celery("proj", broker="redis://", backend="redis://")


@celery.task(time_limit=60)
def greet():
    with flask_app.app_context():
        return current_app.config["GREETING"]
'''
    ),
    case(
        r'''
# --- requirements.txt
celery==5.4.0
Flask-SQLAlchemy==2.5.1
# --- proj/__init__.py
# --- proj/models.py
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class Report(db.Model):
    id = db.Column(db.Integer, primary_key=True)
# --- proj/celery_app.py
from celery import Celery
from flask import Flask

from proj.models import Report, db

celery = Celery("proj", broker="redis://", backend="redis://")


def create_app():
    app = Flask(__name__)
    db.init_app(app)
    db.app = app  # Flask-SQLAlchemy 2.x: bound, it needs no app context
    return app


flask_app = create_app()


@celery.task(time_limit=60)
def count():
    return Report.query.count()
'''
    ),
)


APP_CONTEXT_RULE = Rule(
    code="CEL003",
    name="task-needs-app-context",
    summary="A task uses Flask state that needs an application context the worker does not have.",
    what=(
        "Reports the first use, in a task's body or in a same-module function it calls, of "
        "`current_app`, `g`, `url_for`, `render_template`, Flask-SQLAlchemy `db.session` / "
        "`Model.query`, or Flask-Mail `mail.send`, when nothing provides an app context: no `with "
        "app.app_context():` around it, no Task base (`base=`, `task_cls=`, `app.Task = ...`) whose "
        "`__call__` pushes one, and no `app.app_context().push()` in the worker's entry module."
    ),
    why=(
        "A worker process has no Flask app context unless the code creates one. These proxies raise "
        "`RuntimeError: Working outside of application context.` and the task fails at once. A base "
        "that uses `current_app.app_context()` provides nothing: `current_app` itself needs a context."
    ),
    fix="Push an app context for every task with a Task base class, as Flask's Celery pattern does.",
    invalid=CEL003_INVALID,
    valid=CEL003_VALID,
    check=check_app_context,
)

CEL004_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery
from flask_login import current_user

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def export():
    return current_user.id  # expect: CEL004
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery
from flask import session

celery = Celery("proj", broker="redis://", backend="redis://")


@celery.task(time_limit=60)
def remember():
    return session.get("cart")  # expect: CEL004
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery
from flask import session

celery = Celery("proj", broker="redis://", backend="redis://")


@celery.task(time_limit=60)
def checkout(total):
    session["last_total"] = total  # expect: CEL004
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery
from flask import flash

celery = Celery("proj", broker="redis://", backend="redis://")


def announce(count):
    flash(f"{count} rows imported")  # expect: CEL004


@celery.task(time_limit=60)
def import_rows(rows):
    announce(len(rows))
'''
    ),
)
CEL004_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def export(user_id):
    return user_id
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

celery = Celery("proj", broker="redis://", backend="redis://")


@celery.task(time_limit=60)
def remember(cart):
    return cart
# --- proj/views.py
from flask import session

from proj.celery_app import remember


def checkout():
    remember.delay(session.get("cart"))  # read in the view, passed as plain data
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/db.py
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

Session = sessionmaker(bind=create_engine("sqlite://"))
# --- proj/celery_app.py
from celery import Celery
from flask import session

from proj.db import Session

celery = Celery("proj", broker="redis://", backend="redis://")


def cart_view():
    return session.get("cart")  # a view: it has a request


@celery.task(time_limit=60)
def archive(order_id):
    with Session() as session:  # a SQLAlchemy session, not flask.session
        order = session.get("Order", order_id)
        session.info["archived"] = order


@celery.task(time_limit=60)
def archive_everywhere(order_id, shards):
    return [session.get("Order", order_id) for session in (Session(bind=shard) for shard in shards)]
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery
from flask import Flask, flash, render_template, session

flask_app = Flask(__name__)
celery = Celery("proj", broker="redis://", backend="redis://")


def notify():
    flash("generated")


@celery.task(time_limit=60)
def render_report(data):
    with flask_app.test_request_context("/reports"):  # the task makes its own request
        notify()
        return render_template("report.html", data=data, user=session.get("user"))
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery, Task
from flask import Flask, session

flask_app = Flask(__name__)


class RequestTask(Task):
    def __call__(self, *args, **kwargs):
        with flask_app.test_request_context():  # every task runs inside a request
            return self.run(*args, **kwargs)


celery = Celery("proj", broker="redis://", backend="redis://", task_cls=RequestTask)


@celery.task(time_limit=60)
def greet():
    return session.get("name", "guest")
'''
    ),
)


REQUEST_CONTEXT_RULE = Rule(
    code="CEL004",
    name="request-context-in-task",
    summary="A task uses request state (request, session, flash, current_user) that a worker never has.",
    what=(
        "Reports the first use, in a task's body or in a same-module function it calls, of "
        "`flask.request`, `flask.session` (reads, `session[\"k\"] = v`, `session.get()`), "
        "`flask.flash()` or `flask_login.current_user`. Silent inside `with app.test_request_context():` "
        "and for tasks whose base pushes a request context."
    ),
    why=(
        "A worker runs outside any HTTP request. Even inside an app context these raise "
        "`RuntimeError: Working outside of request context.`, and `current_user` is None."
    ),
    fix="Read the values in the view and pass them to the task as arguments.",
    invalid=CEL004_INVALID,
    valid=CEL004_VALID,
    check=check_request_context,
)
