"""CEL024: url_for() in a task whose Flask app has no SERVER_NAME."""

from __future__ import annotations

from typing import Iterator, List, Optional, Set, Tuple

from celerylint.facts.types import MAIN_SCOPE, MODULE_SCOPE, Attr, Call, CallFact, Const, DictVal, Ref, Seq, Sub, Value
from celerylint.findings import Related
from celerylint.model.config_objects import FLASK_CLASSES, FLASK_CONFIG_OPAQUE
from celerylint.model.flask import real_app_context
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project, TaskDef
from celerylint.model.resolve import ClassObj, ExtObj, Obj
from celerylint.rules.base import Report, Rule, case, related_at, report

URL_FOR = frozenset({"flask.url_for", "flask.helpers.url_for"})
REQUEST_CONTEXTS = frozenset({"test_request_context", "request_context"})
FLASK_CONFIG_METHODS = ("from_object", "from_mapping", "update", "setdefault") + tuple(sorted(FLASK_CONFIG_OPAQUE))
SERVER_NAME = "SERVER_NAME"
MAX_VALUE_DEPTH = 6


def _method_name(value: Value) -> str:
    return value.last if isinstance(value, Ref) else value.attr if isinstance(value, Attr) else ""


def _url_for_calls(project: Project, task: TaskDef) -> Iterator[CallFact]:
    """`url_for(...)` of Flask in the task or a same-module function it calls, outside any
    `with X.test_request_context():` (which gives it a request)."""
    info = task.module
    for scope in project.task_scopes(task):
        for call in project.graph.calls_in(info, scope):
            if _method_name(call.value.func) != "url_for":
                continue
            obj = project.resolve(info, scope, call.value.func)
            if not (isinstance(obj, ExtObj) and obj.path in URL_FOR):
                continue
            if any(_method_name(manager) in REQUEST_CONTEXTS for manager in call.managers):
                continue
            yield call


def _in_app_context(project: Project, task: TaskDef, call: CallFact) -> bool:
    """Provably inside an app context: a `with app.app_context():` around the call, or a known
    Task base (or worker start) that pushes one. An unknown base says nothing."""
    if any(real_app_context(project.graph, task.module, call.scope, receiver) for receiver in call.contexts):
        return True
    base = task.option("base")
    values = [(base, task.module, task.function.scope)] if base is not None else [
        (item.value, item.module, item.scope) for app in project.task_apps(task) for item in project.task_classes(app)
    ]
    for value, info, scope in values:
        obj = project.resolve(info, scope, value)
        if isinstance(obj, ExtObj) and "RequestContext" in obj.path:
            return False  # Flask-CeleryExt's RequestContextTask: url_for works
    _, known = project.task_base_classes(task)
    return known and project.has_app_context(task)


def _request_context_pushed(project: Project) -> bool:
    """A request context that may be active in a worker: made at module level, in a method (a
    Task base's `__call__`), or next to a `.push()`. One in a `with` block of a plain function
    lasts for that block only."""
    for info, call in project.calls_named(*REQUEST_CONTEXTS):
        if info.is_test:
            continue
        if call.scope in (MODULE_SCOPE, MAIN_SCOPE):
            return True
        function = project.resolver.functions.get((info.name, call.scope))
        if function is None or function.class_qualname is not None:
            return True
        if any(_method_name(other.value.func) == "push" for other in project.graph.calls_in(info, call.scope)):
            return True
    return False


def _mentions_server_name(value: Optional[Value], depth: int = 0) -> bool:
    if value is None or depth > MAX_VALUE_DEPTH:
        return False
    if isinstance(value, Const):
        return value.value == SERVER_NAME
    if isinstance(value, Ref):
        return value.last == SERVER_NAME
    if isinstance(value, Sub):
        return _mentions_server_name(value.key, depth + 1) or _mentions_server_name(value.base, depth + 1)
    if isinstance(value, DictVal):
        return any(_mentions_server_name(key, depth + 1) for key, _ in value.items)
    if isinstance(value, Call):
        return any(key == SERVER_NAME for key, _ in value.kwargs) or any(
            _mentions_server_name(arg, depth + 1) for arg in value.args
        )
    if isinstance(value, Seq):
        return any(_mentions_server_name(item, depth + 1) for item in value.items)
    return False


def _server_name_anywhere(project: Project) -> bool:
    """SERVER_NAME named anywhere outside tests: a constant, a class attribute, a config key
    written or read, a keyword. Where it reaches which app may not be followed: then it counts."""
    for info in project.index.modules():
        if info.is_test:
            continue
        facts = info.facts
        if any(binding.name == SERVER_NAME or _mentions_server_name(binding.value) for binding in facts.globals):
            return True
        if any(binding.name == SERVER_NAME for cls in facts.classes for binding in cls.attributes):
            return True
        if any(_mentions_server_name(store.target) for store in facts.stores):
            return True
        if any(_mentions_server_name(call.value) for call in facts.calls):
            return True
    return False


def _flask_apps(project: Project) -> Optional[List[Tuple[Obj, ModuleInfo, CallFact]]]:
    """Every Flask app the project creates outside tests, or None when its configuration may
    come from somewhere not followed: a file or the environment (`from_pyfile`, `from_envvar`,
    `from_prefixed_env`), or a config call on something not known to be one of these apps."""
    objects = project.objects
    names: Set[str] = {"Flask"}
    for module, qualname in project.resolver.classes:
        cls = ClassObj(module, qualname)
        if project.resolver.reaches(cls, lambda base: isinstance(base, ExtObj) and base.path in FLASK_CLASSES):
            names.add(qualname.rsplit(".", 1)[-1])
    apps: List[Tuple[Obj, ModuleInfo, CallFact]] = []
    for info, call in project.calls_named(*sorted(names)):
        if info.is_test:
            continue
        obj = project.resolve(info, call.scope, call.value)
        if objects.is_flask(obj) and all(obj != known for known, _, _ in apps):
            apps.append((obj, info, call))
    for info, call in project.calls_named(*FLASK_CONFIG_METHODS):
        func = call.value.func
        if info.is_test or not (isinstance(func, Ref) and func.path.endswith(".config." + func.last)):
            continue
        receiver = Ref(func.scope, func.path[: -len(".config." + func.last)])
        if not any(objects.is_flask(obj) for obj in project.graph.receivers(info, call.scope, receiver)):
            return None  # a config call on an object not tied to an app: it may be one of them
    for obj, _, _ in apps:
        mapping = objects.flask_mapping(obj)
        if mapping.opaque or mapping.get(SERVER_NAME) is not None:
            return None
    return apps or None


def check(project: Project) -> Iterator[Report]:
    found: List[Tuple[TaskDef, CallFact]] = []
    for task in project.tasks:
        if task.module.is_test or not task.module.facts.detailed:
            continue
        for call in _url_for_calls(project, task):
            if _in_app_context(project, task, call):
                found.append((task, call))
                break
    if not found or _request_context_pushed(project) or _server_name_anywhere(project):
        return
    apps = _flask_apps(project)
    if apps is None:
        return
    evidence: List[Related] = [
        related_at(info.rel, call.loc.line, call.loc.col, "a Flask app whose config sets no SERVER_NAME") for _, info, call in apps
    ]
    for task, call in found:
        where = "" if call.scope == task.function.qualname else f" in {call.scope}()"
        yield report(
            task.module.rel, call.loc,
            f"task {task.function.qualname}() calls url_for(){where} with no request and no SERVER_NAME: "
            "Flask raises 'Unable to build URLs outside an active request'",
            evidence,
        )


CEL024_APP = '''from celery import Celery, Task
from flask import Flask

flask_app = Flask(__name__)
flask_app.config.from_mapping(SECRET_KEY="dev", PREFERRED_URL_SCHEME="https")


class FlaskTask(Task):
    def __call__(self, *args, **kwargs):
        with flask_app.app_context():
            return self.run(*args, **kwargs)


celery = Celery("proj", broker="redis://", backend="redis://", task_cls=FlaskTask, task_time_limit=60)
'''

CEL024_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
''' + CEL024_APP + r'''
# --- proj/tasks.py
from flask import url_for

from proj.celery_app import celery


@celery.task
def invite(email):
    link = url_for("accept_invite", email=email, _external=True)  # expect: CEL024
    return link
'''
    ),
)
CEL024_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
''' + CEL024_APP.replace('PREFERRED_URL_SCHEME="https"', 'PREFERRED_URL_SCHEME="https", SERVER_NAME="shop.example.com"') + r'''
# --- proj/tasks.py
from flask import url_for

from proj.celery_app import celery


@celery.task
def invite(email):
    return url_for("accept_invite", email=email, _external=True)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
''' + CEL024_APP + r'''
# --- proj/tasks.py
from flask import current_app, url_for

from proj.celery_app import celery


@celery.task
def invite(email):
    with current_app.test_request_context(base_url="https://shop.example.com"):
        return url_for("accept_invite", email=email, _external=True)
'''
    ),
)


RULE = Rule(
    code="CEL024",
    name="url-for-without-server-name",
    summary="A task calls Flask's url_for() with an app context but no SERVER_NAME configured.",
    what=(
        "Reports `flask.url_for()` in a task (or a same-module function it calls) that runs inside a "
        "Flask app context (a Task base that pushes one, or `with app.app_context():`) but no request "
        "context, when every Flask app of the project has a configuration known from the source and "
        "none sets `SERVER_NAME`. Silent inside `with app.test_request_context():`, when the "
        "configuration is read from a file or the environment (`from_pyfile`, `from_envvar`, "
        "`from_prefixed_env`), and without an app context (CEL003 reports that)."
    ),
    why=(
        "Outside a request Flask builds URLs from `SERVER_NAME` only: without it `url_for` raises "
        "`RuntimeError: Unable to build URLs outside an active request without 'SERVER_NAME' "
        "configured`, so the task fails every time (the same code works in a view)."
    ),
    fix=(
        "Set `SERVER_NAME` (and `PREFERRED_URL_SCHEME`) in the Flask config, or build the URL inside "
        "`with app.test_request_context(base_url=...):`, or pass the URL to the task from the view."
    ),
    invalid=CEL024_INVALID,
    valid=CEL024_VALID,
    check=check,
)
