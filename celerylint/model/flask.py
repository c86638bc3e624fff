"""Flask and ORM semantics the model answers for rules: what pushes an app context, what is an
ORM model, what Flask state a name is."""

from __future__ import annotations

from typing import Dict, Iterator, Optional, Tuple

from celerylint.facts.types import Attr, Call, CallFact, Ref, UseFact, Value, last_name
from celerylint.model.graph import ProgramGraph
from celerylint.model.modules import ModuleInfo
from celerylint.model.resolve import AttrOf, ClassObj, ExtObj, InstObj, Obj

SQLALCHEMY = frozenset({"flask_sqlalchemy.SQLAlchemy", "flask_sqlalchemy.extension.SQLAlchemy"})
CURRENT_APP = frozenset({"flask.current_app", "flask.globals.current_app"})
ORM_BASES = frozenset(
    {
        "django.db.models.Model",
        "django.db.models.base.Model",
        "sqlalchemy.orm.DeclarativeBase",
        "sqlalchemy.orm.decl_api.DeclarativeBase",
    }
)
CONTEXT_FACTORIES = ("app_context", "test_request_context")
REQUEST_CONTEXT_FACTORIES = frozenset({"test_request_context", "request_context"})
# Task base classes of extensions that run each task inside an app (or request) context.
EXTERNAL_CONTEXT_BASES = frozenset(
    {f"flask_celeryext.{module}{name}" for module in ("", "app.") for name in ("AppContextTask", "RequestContextTask")}
)
EXTERNAL_REQUEST_BASES = frozenset(f"flask_celeryext.{module}RequestContextTask" for module in ("", "app."))
# Names that need an application context, and names that need a request, by what they are.
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


def sqlalchemy_bound_to_app(graph: ProgramGraph) -> bool:
    """`db.app = app` or `SQLAlchemy(app)` somewhere outside tests: with Flask-SQLAlchemy 2.x a
    bound extension finds its app without an app context."""
    for info in graph.index.modules():
        if info.is_test:
            continue
        for store in info.facts.stores:
            target = store.target
            if isinstance(target, Ref) and target.path.endswith(".app"):
                holder = graph.resolve(info, store.scope, Ref(target.scope, target.path.rpartition(".")[0]))
                if isinstance(holder, InstObj) and holder.cls in SQLALCHEMY:
                    return True
        for call in info.facts.calls:
            if call.value.args or call.value.kwarg("app") is not None:
                func = graph.resolve(info, call.scope, call.value.func)
                if isinstance(func, ExtObj) and func.path in SQLALCHEMY:
                    return True
    return False


def is_orm_base(obj: Obj) -> bool:
    if isinstance(obj, AttrOf) and obj.path == "Model" and isinstance(obj.base, InstObj):
        return obj.base.cls in SQLALCHEMY
    if isinstance(obj, ExtObj):
        return obj.path in ORM_BASES
    # declarative_base() / declarative_base(...) from SQLAlchemy
    if isinstance(obj, InstObj) and isinstance(obj.cls, str):
        return obj.cls.endswith("declarative_base")
    return False


def is_orm_model(graph: ProgramGraph, obj: Obj) -> bool:
    return isinstance(obj, ClassObj) and graph.resolver.reaches(obj, is_orm_base)


def _method_calls(graph: ProgramGraph, cls: ClassObj) -> Iterator[Tuple[ModuleInfo, CallFact, bool]]:
    """Calls made in the methods of a class and its project bases: (module, call, in `__call__`)."""
    for item in graph.resolver.mro(cls):
        if not isinstance(item, ClassObj):
            continue
        info = graph.index.by_name.get(item.module)
        if info is None:
            continue
        for call in info.facts.calls:
            if call.scope.startswith(item.qualname + "."):
                yield info, call, call.scope == f"{item.qualname}.__call__"


def pushes_context(graph: ProgramGraph, cls: ClassObj) -> bool:
    """Whether a Task base class runs tasks inside a Flask app context (not via current_app).

    Any `X.app_context()` made in `__call__` counts, however it is entered (`with`,
    `.push()`, an ExitStack); so does `X.app_context().push()` in any of its methods.
    """
    return any(
        (in_call and _makes_app_context(graph, info, call)) or is_context_push(graph, info, call)
        for info, call, in_call in _method_calls(graph, cls)
    )


def pushes_request_context(graph: ProgramGraph, cls: ClassObj) -> bool:
    """Whether a Task base class's `__call__` makes `X.test_request_context()` (or
    `request_context`): its tasks then run with a request, so request state works."""
    return any(in_call and makes_request_context(call) for _, call, in_call in _method_calls(graph, cls))


def makes_request_context(call: CallFact) -> bool:
    return last_name(call.value.func) in REQUEST_CONTEXT_FACTORIES


def in_request_context(call: CallFact) -> bool:
    """A call made inside `with X.test_request_context(...)` (or `request_context`)."""
    return any(last_name(manager) in REQUEST_CONTEXT_FACTORIES for manager in call.managers)


def _makes_app_context(graph: ProgramGraph, info: ModuleInfo, call: CallFact) -> bool:
    func = call.value.func
    if isinstance(func, Ref) and func.last in CONTEXT_FACTORIES and "." in func.path:
        return real_app_context(graph, info, call.scope, Ref(func.scope, func.path.rpartition(".")[0]))
    return False


def real_app_context(graph: ProgramGraph, info: ModuleInfo, scope: str, receiver: Value) -> bool:
    """A `with X.app_context()` receiver that is not flask.current_app (which needs a context itself)."""
    obj = graph.resolve(info, scope, receiver)
    return not (isinstance(obj, ExtObj) and obj.path in CURRENT_APP)


def is_context_push(graph: ProgramGraph, info: ModuleInfo, call: CallFact) -> bool:
    """`X.app_context().push()` or `ctx = X.app_context(); ctx.push()`."""
    func = call.value.func
    if isinstance(func, Attr) and func.attr == "push" and isinstance(func.base, Call):
        inner = func.base.func
        if isinstance(inner, Ref) and inner.last in CONTEXT_FACTORIES:
            return real_app_context(graph, info, call.scope, Ref(inner.scope, inner.path.rpartition(".")[0]))
    if isinstance(func, Ref) and func.last == "push" and "." in func.path:
        holder = Ref(func.scope, func.path.rpartition(".")[0])
        function = graph.resolver.functions.get((info.name, call.scope))
        bindings = function.locals if function is not None else info.facts.globals
        for binding in bindings:
            if binding.name == holder.path and isinstance(binding.value, Call):
                inner = binding.value.func
                if isinstance(inner, Ref) and inner.last in CONTEXT_FACTORIES:
                    return True
    return False


def _named(obj: Obj, table: Dict[str, str]) -> Optional[str]:
    if isinstance(obj, ExtObj):
        for prefix, label in table.items():
            if obj.path == prefix or obj.path.startswith(prefix + "."):
                return label
    return None


def needs_app_context(graph: ProgramGraph, info: ModuleInfo, use: UseFact, sqlalchemy_needs_context: bool = True) -> Optional[str]:
    """What a name use touches that needs an application context (a label), or None. A bound
    Flask-SQLAlchemy 2.x (``sqlalchemy_needs_context`` False) needs none."""
    ref = use.ref
    obj = graph.resolve(info, use.scope, ref)
    label = _named(obj, APP_CONTEXT_NAMES)
    if label is not None:
        return label
    if isinstance(obj, AttrOf) and isinstance(obj.base, InstObj):
        first = obj.path.split(".", 1)[0]
        if obj.base.cls in SQLALCHEMY and first in ("session", "engine"):
            return f"Flask-SQLAlchemy db.{first}" if sqlalchemy_needs_context else None
        if obj.base.cls in MAIL_CLASSES and first == "send":
            return "Flask-Mail mail.send()"
    parts = ref.path.split(".")
    for cut in range(1, len(parts)):
        if parts[cut] != "query":
            continue
        owner = graph.resolve(info, use.scope, Ref(ref.scope, ".".join(parts[:cut])))
        if isinstance(owner, ClassObj) and is_orm_model(graph, owner) and sqlalchemy_needs_context:
            return f"{owner.qualname.rsplit('.', 1)[-1]}.query (Flask-SQLAlchemy)"
    return None


def needs_request(graph: ProgramGraph, info: ModuleInfo, use: UseFact) -> Optional[str]:
    """What request-only Flask state a name use touches (a label), or None."""
    return _named(graph.resolve(info, use.scope, use.ref), REQUEST_NAMES)
