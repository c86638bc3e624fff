"""CEL005: a task argument the JSON serializer cannot encode."""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from celerylint.facts.types import (
    Attr, Call, CallFact, DictVal, IterItem, LambdaVal, Opaque, Ref, Seq, Value,
)
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project, TaskDef
from celerylint.model.resolve import ClassObj, ExtObj, FuncObj, Obj
from celerylint.findings import Related
from celerylint.rules.base import Report, Rule, case, related_at, report
from celerylint.model.flask import REQUEST_NAMES, is_orm_model

UNENCODABLE_CALLS = {
    "builtins.set": "a set",
    "builtins.frozenset": "a frozenset",
    "builtins.open": "an open file",
    "io.open": "an open file",
    "builtins.bytearray": "a bytearray",
    "builtins.complex": "a complex number",
    "builtins.range": "a range",
    "datetime.timedelta": "a timedelta",
    "pathlib.Path": "a pathlib.Path",
    "pathlib.PurePath": "a pathlib.PurePath",
}
OPAQUE_KINDS = {"genexp": "a generator", "setcomp": "a set", "lambda": "a lambda", "complex": "a complex number"}
QUERY_RESULT_METHODS = frozenset(
    {"get", "get_or_404", "first", "first_or_404", "one", "one_or_none", "one_or_404", "last", "latest", "earliest", "scalar_one"}
)
SESSION_GETTERS = frozenset({"get", "get_or_404", "merge"})
MAX_DEPTH = 6


class ArgumentClassifier:
    """Says why a value cannot be JSON-encoded, only on evidence."""

    def __init__(self, project: Project, info: ModuleInfo, scope: str) -> None:
        self.project = project
        self.info = info
        self.scope = scope

    def resolve(self, value: Value) -> Obj:
        return self.project.resolve(self.info, self.scope, value)

    def why(self, value: Value, depth: int = 0) -> Optional[str]:
        if depth > MAX_DEPTH:
            return None
        if isinstance(value, LambdaVal):
            return "a lambda"
        if isinstance(value, Opaque):
            return OPAQUE_KINDS.get(value.kind)
        if isinstance(value, Seq):
            if value.kind == "set":
                return "a set"
            return self._first(value.items, depth)
        if isinstance(value, DictVal):
            return self._first(tuple(item for _, item in value.items), depth)
        if isinstance(value, Call):
            return self._call(value, depth)
        if isinstance(value, IterItem):
            model = self._query_model(value.base, iterated=True)
            return f"a {model} ORM instance" if model else None
        if isinstance(value, Ref):
            return self._ref(value, depth)
        return None

    def _first(self, items: Tuple[Value, ...], depth: int) -> Optional[str]:
        for item in items:
            reason = self.why(item, depth + 1)
            if reason:
                return reason
        return None

    def _ref(self, ref: Ref, depth: int) -> Optional[str]:
        if ref.scope == "local" and "." not in ref.path:
            function = self.project.resolver.functions.get((self.info.name, self.scope))
            if function is not None:
                for binding in reversed(function.locals):
                    if binding.name == ref.path:
                        return self.why(binding.value, depth + 1)
                for param in function.params:
                    if param.name == ref.path and param.annotation is not None:
                        return self._instance_of(self.resolve(param.annotation))
            return None
        obj = self.resolve(ref)
        if isinstance(obj, FuncObj) and "." not in obj.qualname:
            return f"the function {obj.qualname}()"
        if isinstance(obj, ExtObj):
            for prefix, label in REQUEST_NAMES.items():
                if obj.path == prefix:
                    return f"the {label} proxy"
        return None

    def _call(self, call: Call, depth: int) -> Optional[str]:
        model = self._query_model(call)
        if model:
            return f"a {model} ORM instance"
        func = call.func
        if isinstance(func, Ref) and func.last in SESSION_GETTERS and call.args:
            owner = self.resolve(call.args[0])
            if is_orm_model(self.project.graph, owner):
                assert isinstance(owner, ClassObj)
                return f"a {owner.qualname} ORM instance"
        callee = self.resolve(func)
        if isinstance(callee, ExtObj):
            return UNENCODABLE_CALLS.get(callee.path)
        if isinstance(callee, ClassObj):
            return self._instance_of(callee)
        return None

    def _instance_of(self, cls: Obj) -> Optional[str]:
        if not isinstance(cls, ClassObj):
            return None
        if is_orm_model(self.project.graph, cls):
            return f"a {cls.qualname} ORM instance"
        if self._plain_project_class(cls):
            return f"an instance of {cls.qualname}"
        return None

    def _plain_project_class(self, cls: ClassObj) -> bool:
        """Only project classes all the way up, and no __json__: JSON cannot encode them."""
        resolver = self.project.resolver
        for item in resolver.mro(cls):
            if isinstance(item, ClassObj):
                if resolver.class_attr(item, "__json__") is not None:
                    return False
            elif not (isinstance(item, ExtObj) and item.path == "builtins.object"):
                return False
        return True

    def _query_model(self, value: Value, iterated: bool = False) -> Optional[str]:
        """`Model.query.get(..)`, `Model.query.filter_by(..).first()`, `Model.objects.get(..)`."""
        chain: List[str] = []
        current: Value = value
        for _ in range(12):
            if isinstance(current, Call):
                current = current.func
            elif isinstance(current, Attr):
                chain.append(current.attr)
                current = current.base
            else:
                break
        if not isinstance(current, Ref):
            return None
        parts = current.path.split(".")
        names = parts + list(reversed(chain))
        for marker in ("query", "objects"):
            if marker not in names[1:]:
                continue
            cut = names.index(marker, 1)
            if cut > len(parts):
                continue  # the owner must be a plain name chain
            owner_path = ".".join(names[:cut])
            tail = names[cut + 1:]
            if not iterated and (not tail or tail[-1] not in QUERY_RESULT_METHODS):
                continue  # iterating any query yields instances; otherwise only these methods do
            owner = self.resolve(Ref(current.scope, owner_path))
            if is_orm_model(self.project.graph, owner):
                assert isinstance(owner, ClassObj)
                return owner.qualname
        return None


def _arguments(call: CallFact) -> List[Tuple[Value, str]]:
    """(value, location key) for each task argument the call sends."""
    value = call.value
    func = value.func
    method = func.last if isinstance(func, Ref) else ""
    if method in ("delay", "s", "si"):
        return [(arg, str(i)) for i, arg in enumerate(value.args)] + [(v, k) for k, v in value.kwargs]
    result: List[Tuple[Value, str]] = []
    args = value.kwarg("args") or (value.args[0] if value.args else None)
    kwargs = value.kwarg("kwargs") or (value.args[1] if len(value.args) > 1 else None)
    key_args = "args" if value.kwarg("args") is not None else "0"
    key_kwargs = "kwargs" if value.kwarg("kwargs") is not None else "1"
    if isinstance(args, Seq):
        result.extend((item, key_args) for item in args.items)
    if isinstance(kwargs, DictVal):
        result.extend((item, key_kwargs) for _, item in kwargs.items)
    return result


def _task_def(task: TaskDef) -> Related:
    loc = task.decorator_loc
    return related_at(task.module.rel, loc.line, loc.col, f"the task '{task.name}' is defined here")


def check(project: Project) -> Iterator[Report]:
    for info, call in project.calls_named("delay", "apply_async", "s", "si", "signature"):
        func = call.value.func
        if not isinstance(func, Ref) or "." not in func.path:
            continue
        task = project.task_for(info, call.scope, Ref(func.scope, func.path.rpartition(".")[0]))
        if task is None or project.task_serializer(task, call) != ("set", "json"):
            continue
        classifier = ArgumentClassifier(project, info, call.scope)
        for argument, key in _arguments(call):
            reason = classifier.why(argument)
            if reason is None:
                continue
            yield report(info.rel, call.arg_loc(key),
                f"argument to {func.path.rsplit('.', 2)[-2]}.{func.last}() is {reason}, which the JSON "
                "task serializer cannot encode: the call raises kombu.exceptions.EncodeError and nothing "
                "is sent. Pass plain data instead (an id, a dict of fields, a list).",
                [_task_def(task)],
            )


CEL005_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def tag(labels):
    return sorted(labels)


def view():
    tag.delay({"a", "b"})  # expect: CEL005
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def tag(names):
    return sorted(names)
# --- proj/views.py
from proj.celery_app import tag


def label():
    tag.apply_async(args=[{"a", "b"}])  # expect: CEL005
'''
    ),
)
CEL005_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def tag(labels):
    return sorted(labels)


def view():
    tag.delay(["a", "b"])
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60, task_serializer="pickle")


@app.task
def tag(names):
    return sorted(names)
# --- proj/views.py
from proj.celery_app import tag


def label():
    tag.delay({"a", "b"})  # pickle encodes sets (CEL005 is about JSON)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def notify(user_id, options):
    return user_id
# --- proj/views.py
from proj.celery_app import notify


def signup(user, settings):
    notify.delay(user.id, settings.get("channels", []))  # an id and plain data
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery, Task

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


class PickledTask(Task):
    serializer = "pickle"  # the base chooses the serializer for its tasks


@app.task(base=PickledTask)
def tag(names):
    return sorted(names)
# --- proj/views.py
from proj.celery_app import tag


def label():
    tag.delay({"a", "b"})
'''
    ),
)


RULE = Rule(
    code="CEL005",
    name="unserializable-task-argument",
    summary="A task argument the app's serializer (JSON by default) cannot encode.",
    what=(
        "Checks arguments to `.delay()`, `.apply_async(args=, kwargs=)`, `.s()`, `.si()` of known "
        "tasks. Under JSON it flags, on evidence only: ORM instances (`Model.query.get()`, "
        "`session.get(Model, ...)`, `Model(...)`, `Model.objects.get()`, a parameter annotated with "
        "a model), sets, lambdas, generators, functions, open files, `request`/`session`/"
        "`current_user`, and instances of plain project classes. Silent for values it cannot "
        "follow and when the serializer is not JSON."
    ),
    why=(
        "kombu serializes the arguments in the caller before anything is published and raises "
        "`kombu.exceptions.EncodeError: Object of type User is not JSON serializable`. Even with "
        "pickle, an ORM object arrives detached and stale."
    ),
    fix="Pass identifiers and plain data, and load the object inside the task.",
    invalid=CEL005_INVALID,
    valid=CEL005_VALID,
    check=check,
)
