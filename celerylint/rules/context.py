"""CEL003 and CEL004: Flask state used in a task where a worker has none."""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Tuple

from celerylint.facts.types import Const, Ref, UseFact
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Closure, Project, TaskDef
from celerylint.model.resolve import AppObj, AttrOf, ClassObj, ExtObj, FuncObj, InstObj, Obj
from celerylint.findings import Related
from celerylint.findings import Finding
from celerylint.rules.base import Rule, example, finding_at, related_at
from celerylint.rules.common import (
    SQLALCHEMY,
    calls_in,
    is_context_push,
    is_orm_model,
    pushes_context,
    real_app_context,
    task_apps,
    task_base_classes,
)

APP_CONTEXT_NAMES = {
    "flask.current_app": "current_app",
    "flask.globals.current_app": "current_app",
    "flask.g": "g",
    "flask.globals.g": "g",
    "flask.url_for": "url_for()",
    "flask.helpers.url_for": "url_for()",
    "flask.render_template": "render_template()",
    "flask.render_template_string": "render_template_string()",
    "flask.templating.render_template": "render_template()",
    "flask.stream_template": "stream_template()",
}
REQUEST_NAMES = {
    "flask.request": "flask.request",
    "flask.globals.request": "flask.request",
    "flask.session": "flask.session",
    "flask.globals.session": "flask.session",
    "flask.flash": "flask.flash()",
    "flask.helpers.flash": "flask.flash()",
    "flask.get_flashed_messages": "flask.get_flashed_messages()",
    "flask_login.current_user": "flask_login.current_user",
    "flask_login.utils.current_user": "flask_login.current_user",
}
MAIL_CLASSES = frozenset({"flask_mail.Mail"})


def _named(obj: Obj, table: Dict[str, str]) -> Optional[str]:
    if isinstance(obj, ExtObj):
        for prefix, label in table.items():
            if obj.path == prefix or obj.path.startswith(prefix + "."):
                return label
    return None


def needs_app_context(project: Project, info: ModuleInfo, use: UseFact) -> Optional[str]:
    """What a use touches that needs an app context, or None."""
    ref = use.ref
    obj = project.resolve(info, use.scope, ref)
    label = _named(obj, APP_CONTEXT_NAMES)
    if label is not None:
        return label
    if isinstance(obj, AttrOf) and isinstance(obj.base, InstObj):
        first = obj.path.split(".", 1)[0]
        if obj.base.cls in SQLALCHEMY and first in ("session", "engine"):
            return f"Flask-SQLAlchemy db.{first}"
        if obj.base.cls in MAIL_CLASSES and first == "send":
            return "Flask-Mail mail.send()"
    parts = ref.path.split(".")
    for cut in range(1, len(parts)):
        if parts[cut] != "query":
            continue
        owner = project.resolve(info, use.scope, Ref(ref.scope, ".".join(parts[:cut])))
        if is_orm_model(project, owner):
            assert isinstance(owner, ClassObj)
            return f"{owner.qualname.rsplit('.', 1)[-1]}.query (Flask-SQLAlchemy)"
    return None


def needs_request(project: Project, info: ModuleInfo, use: UseFact) -> Optional[str]:
    return _named(project.resolve(info, use.scope, use.ref), REQUEST_NAMES)


def _scopes(project: Project, task: TaskDef) -> List[str]:
    """The task's body and the same module's functions it calls directly."""
    info = task.module
    scopes = [task.function.qualname]
    for call in calls_in(info, task.function.qualname):
        target = project.resolve(info, call.scope, call.value.func)
        if isinstance(target, FuncObj) and target.module == info.name and "." not in target.qualname:
            if target.qualname not in scopes:
                scopes.append(target.qualname)
    return scopes


def _uses(project: Project, task: TaskDef) -> List[UseFact]:
    scopes = set(_scopes(project, task))
    uses = [use for use in task.module.facts.uses if use.scope in scopes]
    return sorted(uses, key=lambda use: (use.scope != task.function.qualname, use.loc.line, use.loc.col))


def context_provided(project: Project, task: TaskDef) -> bool:
    classes, known = task_base_classes(project, task)
    if not known or any(pushes_context(project, cls) for cls in classes):
        return True
    if task.option("base") is None and _shared(task):
        # @app.task(shared=True), the default, builds the task again on every app a worker
        # finalizes, with that app's Task class: another app's context-pushing base counts.
        for other in project.apps:
            if other != task.app and any(pushes_context(project, cls) for cls in _app_bases(project, other)):
                return True
    for app in task_apps(project, task):
        for worker in project.workers_for(app):
            if _worker_pushes(project, worker.closure):
                return True
    return False


def _shared(task: TaskDef) -> bool:
    shared = task.option("shared")
    return not (isinstance(shared, Const) and shared.value is False)


def _app_bases(project: Project, app: AppObj) -> List[ClassObj]:
    bases = []
    for value, info, scope, _ in project.task_bases.get(app, []):
        obj = project.resolve(info, scope, value)
        if isinstance(obj, ClassObj):
            bases.append(obj)
    return bases


def _worker_pushes(project: Project, closure: Closure) -> bool:
    for module, scope in closure.places():
        info = project.index.by_name.get(module)
        if info is None:
            continue
        if any(is_context_push(project, info, call) for call in calls_in(info, scope)):
            return True
    return False


def _covered(project: Project, info: ModuleInfo, use: UseFact) -> bool:
    return any(real_app_context(project, info, use.scope, receiver) for receiver in use.contexts)


def _context_evidence(project: Project, task: TaskDef) -> List[Related]:
    """Where a context could have come from: the task's decorator, its app's Task base."""
    loc = task.decorator_loc
    related = [related_at(task.module.rel, loc.line, loc.col, f"the task '{task.name}', with no base that pushes an app context")]
    for app in task_apps(project, task):
        definition = project.apps[app]
        related.append(related_at(definition.module.rel, definition.loc.line, definition.loc.col, "its app, whose Task class pushes no app context"))
        for _, info, _, base_loc in project.task_bases.get(app, []):
            related.append(related_at(info.rel, base_loc.line, base_loc.col, "the app's Task class is set here"))
    return related


def check_app_context(project: Project) -> Iterator[Finding]:
    for task in project.tasks:
        if not task.module.facts.detailed:
            continue
        first: Optional[Tuple[UseFact, str]] = None
        for use in _uses(project, task):
            if _covered(project, task.module, use):
                continue
            label = needs_app_context(project, task.module, use)
            if label is not None:
                first = (use, label)
                break
        if first is None or context_provided(project, task):
            continue
        use, label = first
        where = "" if use.scope == task.function.qualname else f" (in {use.scope}(), which the task calls)"
        yield finding_at(
            "CEL003", task.module.rel, use.loc,
            f"task '{task.name}' uses {label}{where} without a Flask application context: in the worker "
            "it raises 'RuntimeError: Working outside of application context'. Give the app a Task base "
            "whose __call__ runs `with flask_app.app_context():` (task_cls=, or Flask's celery_init_app "
            "pattern), or wrap the body in `with flask_app.app_context():`.",
            _context_evidence(project, task),
        )


def check_request_context(project: Project) -> Iterator[Finding]:
    for task in project.tasks:
        if not task.module.facts.detailed:
            continue
        for use in _uses(project, task):
            label = needs_request(project, task.module, use)
            if label is None:
                continue
            yield finding_at(
                "CEL004", task.module.rel, use.loc,
                f"task '{task.name}' uses {label}, but a worker never has a request, even inside an "
                "app context: it raises 'Working outside of request context' (current_user is None). "
                "Read what you need in the view and pass it as a task argument (e.g. user_id).",
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
    bad=example(
        ("proj/__init__.py", ""),
        ("proj/extensions.py", "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n"),
        ("proj/celery_app.py", CONTEXT_GOOD_BASE.replace(', task_cls=FlaskTask', '')),
    ),
    good=example(
        ("proj/__init__.py", ""),
        ("proj/extensions.py", "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n"),
        ("proj/celery_app.py", CONTEXT_GOOD_BASE),
    ),
    check=check_app_context,
)

REQUEST_CONTEXT_RULE = Rule(
    code="CEL004",
    name="request-context-in-task",
    summary="A task uses request state (request, session, flash, current_user) that a worker never has.",
    what="Reports the first use of `flask.request`, `flask.session`, `flask.flash` or `flask_login.current_user` in a task.",
    why=(
        "A worker runs outside any HTTP request. Even inside an app context these raise "
        "`RuntimeError: Working outside of request context.`, and `current_user` is None."
    ),
    fix="Read the values in the view and pass them to the task as arguments.",
    bad=example(
        ("proj/__init__.py", ""),
        ("proj/tasks.py", 'from celery import Celery\nfrom flask_login import current_user\n\napp = Celery("proj", broker="redis://", backend="redis://")\n\n\n@app.task(time_limit=60)\ndef export():\n    return current_user.id\n'),
    ),
    good=example(
        ("proj/__init__.py", ""),
        ("proj/tasks.py", 'from celery import Celery\n\napp = Celery("proj", broker="redis://", backend="redis://")\n\n\n@app.task(time_limit=60)\ndef export(user_id):\n    return user_id\n'),
    ),
    check=check_request_context,
)
