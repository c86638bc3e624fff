"""Questions several rules ask of the model."""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple

from celerylint.facts.types import Attr, Call, CallFact, Const, Ref, Value
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project, TaskDef
from celerylint.model.resolve import AppObj, AttrOf, ClassObj, ExtObj, FuncObj, InstObj, Obj

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


def is_orm_base(obj: Obj) -> bool:
    if isinstance(obj, AttrOf) and obj.path == "Model" and isinstance(obj.base, InstObj):
        return obj.base.cls in SQLALCHEMY
    if isinstance(obj, ExtObj):
        return obj.path in ORM_BASES
    # declarative_base() / declarative_base(...) from SQLAlchemy
    if isinstance(obj, InstObj) and isinstance(obj.cls, str):
        return obj.cls.endswith("declarative_base")
    return False


def is_orm_model(project: Project, obj: Obj) -> bool:
    return isinstance(obj, ClassObj) and project.resolver.reaches(obj, is_orm_base)


def task_apps(project: Project, task: TaskDef) -> List[AppObj]:
    """The app a task belongs to; for @shared_task, every app a worker for it loads."""
    if task.app is not None:
        return [task.app]
    if len(project.apps) == 1:
        return list(project.apps)
    apps: List[AppObj] = []
    for worker in project.workers_for(None):
        if task.module.name in worker.closure.modules:
            apps.extend(app for app in project.apps_in(worker.closure) if app not in apps)
    return apps


def pushes_context(project: Project, cls: ClassObj) -> bool:
    """Whether a Task base class runs tasks inside a Flask app context (not via current_app).

    Any `X.app_context()` made in `__call__` counts, however it is entered (`with`,
    `.push()`, an ExitStack); so does `X.app_context().push()` in any of its methods.
    """
    for item in project.resolver.mro(cls):
        if not isinstance(item, ClassObj):
            continue
        info = project.index.by_name.get(item.module)
        if info is None:
            continue
        call_scope = f"{item.qualname}.__call__"
        for call in info.facts.calls:
            if call.scope == call_scope and _makes_app_context(project, info, call):
                return True
            if call.scope.startswith(item.qualname + ".") and is_context_push(project, info, call):
                return True
    return False


def _makes_app_context(project: Project, info: ModuleInfo, call: CallFact) -> bool:
    func = call.value.func
    if isinstance(func, Ref) and func.last in ("app_context", "test_request_context") and "." in func.path:
        return real_app_context(project, info, call.scope, Ref(func.scope, func.path.rpartition(".")[0]))
    return False


def real_app_context(project: Project, info: ModuleInfo, scope: str, receiver: Value) -> bool:
    """A `with X.app_context()` receiver that is not flask.current_app (which needs a context itself)."""
    obj = project.resolve(info, scope, receiver)
    return not (isinstance(obj, ExtObj) and obj.path in CURRENT_APP)


def is_context_push(project: Project, info: ModuleInfo, call: CallFact) -> bool:
    """`X.app_context().push()` or `ctx = X.app_context(); ctx.push()`."""
    func = call.value.func
    if isinstance(func, Attr) and func.attr == "push" and isinstance(func.base, Call):
        inner = func.base.func
        if isinstance(inner, Ref) and inner.last in ("app_context", "test_request_context"):
            return real_app_context(project, info, call.scope, Ref(inner.scope, inner.path.rpartition(".")[0]))
    if isinstance(func, Ref) and func.last == "push" and "." in func.path:
        holder = Ref(func.scope, func.path.rpartition(".")[0])
        function = project.resolver.functions.get((info.name, call.scope))
        bindings = function.locals if function is not None else info.facts.globals
        for binding in bindings:
            if binding.name == holder.path and isinstance(binding.value, Call):
                inner = binding.value.func
                if isinstance(inner, Ref) and inner.last in ("app_context", "test_request_context"):
                    return True
    return False


def task_base_classes(project: Project, task: TaskDef) -> Tuple[List[ClassObj], bool]:
    """The classes a task's base may be, and whether all of them are known."""
    base = task.option("base")
    values: List[Tuple[Value, ModuleInfo, str]] = []
    if base is not None:
        values.append((base, task.module, task.function.scope))
    else:
        for app in task_apps(project, task):
            for value, info, scope, _ in project.task_bases.get(app, []):
                values.append((value, info, scope))
    classes: List[ClassObj] = []
    known = True
    for value, info, scope in values:
        obj = project.resolve(info, scope, value)
        if isinstance(value, Const) and isinstance(value.value, str):
            obj = project.resolver.resolve_dotted(value.value.replace(":", "."), info)
        if isinstance(obj, ClassObj):
            classes.append(obj)
        elif not (isinstance(obj, (ExtObj, AttrOf)) and str(getattr(obj, "path", "")).endswith("Task")):
            known = False
    return classes, known


def local_value(project: Project, info: ModuleInfo, scope: str, name: str) -> Optional[Value]:
    function = project.resolver.functions.get((info.name, scope))
    if function is None:
        return None
    for binding in reversed(function.locals):
        if binding.name == name:
            return binding.value
    return None


def calls_in(info: ModuleInfo, scope: str) -> Iterable[CallFact]:
    return (call for call in info.facts.calls if call.scope == scope)


def function_obj(task: TaskDef) -> FuncObj:
    return FuncObj(task.module.name, task.function.qualname)


def const_is_set(value: Optional[Value]) -> bool:
    """A decorator option given a real value (not None, not 0)."""
    if value is None:
        return False
    if isinstance(value, Const):
        return value.value not in (None, 0, False)
    return True
