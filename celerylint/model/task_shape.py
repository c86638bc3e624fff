"""What a task looks like to its callers: the classes it is made from, whether Celery checks
call arguments (`typing`), and the parameters a caller passes (after `self` with `bind=True`).

Everything here answers None ("not known") when the task's class chain cannot be followed, a
decorator other than the task's may change the function's signature, or the task's options
come from a wrapper or a `**` spread: the rules that ask stay silent then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Iterable, List, Optional, Set, Tuple

from celerylint.facts.types import Call, Const, FunctionFact, ParamFact, Ref, Value, last_name
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project, TaskDef
from celerylint.model.resolve import AppObj, AttrOf, ClassObj, ExtObj, Obj, UnknownObj, ValObj

CELERY_TASK_CLASSES = frozenset({"celery.Task", "celery.app.task.Task", "celery.app.Task"})
# Methods a Task class may override that change what a call does with its arguments. `run` and
# `__header__` are not among them: Celery puts the task function's own in the task's class.
CALL_METHODS = ("__call__", "delay", "apply_async", "apply", "s", "si", "signature", "subtask")
POSITIONAL = ("posonly", "pos")


@dataclass(frozen=True)
class TaskClasses:
    """The project classes a task is made from (its `base=` or its app's Task class, and their
    bases), all of them known: the rest of the chain is Celery's own Task."""

    classes: Tuple[ClassObj, ...]

    def declared(self, project: Project) -> FrozenSet[str]:
        """Names the project classes bind: class attributes and methods."""
        names: Set[str] = set()
        for cls in self.classes:
            fact = project.resolver.classes.get((cls.module, cls.qualname))
            if fact is not None:
                names.update(binding.name for binding in fact.attributes)
                names.update(fact.methods)
        return frozenset(names)


def task_classes(project: Project, task: TaskDef) -> Optional[TaskClasses]:
    """The task's class chain, or None when some class in it is not known."""
    values = project.task_base_values(task)
    if values is None:
        return None  # a shared task of an app the project does not create
    found: List[ClassObj] = []
    for obj in values:
        if _is_celery_task(obj):
            continue
        if not isinstance(obj, ClassObj) or not _walk(project, obj, found):
            return None
    return TaskClasses(tuple(found))


def _walk(project: Project, cls: ClassObj, found: List[ClassObj], depth: int = 0) -> bool:
    """Add cls and its project bases to found; False when a base is not known."""
    if cls in found:
        return True
    if depth > 20:
        return False
    found.append(cls)
    fact = project.resolver.classes.get((cls.module, cls.qualname))
    info = project.index.by_name.get(cls.module)
    if fact is None or info is None:
        return False
    for base in fact.bases:
        for obj in _base_values(project, info, fact.scope, base):
            if _is_celery_task(obj) or obj == cls or (isinstance(obj, ExtObj) and obj.path == "builtins.object"):
                continue  # `class ContextTask(app.Task)` then `app.Task = ContextTask`: Celery's Task
            if not (isinstance(obj, ClassObj) and _walk(project, obj, found, depth + 1)):
                return False
    return True


def _base_values(project: Project, info: ModuleInfo, scope: str, base: Value) -> List[Obj]:
    """What a base class expression may be, following a local name and a parameter to the
    call sites (`TaskBase = celery.Task` in a `make_celery(celery)` function)."""
    obj = project.resolve(info, scope, base)
    if not isinstance(obj, UnknownObj):
        return [obj]
    if isinstance(base, Ref) and base.scope == "local" and "." not in base.path:
        bound = project.graph.local_value(info, scope, base.path)
        if bound is not None:
            return project.graph.receivers(info, scope, bound)
    return project.graph.receivers(info, scope, base)


def _is_celery_task(obj: Obj) -> bool:
    return (isinstance(obj, ExtObj) and obj.path in CELERY_TASK_CLASSES) or (
        isinstance(obj, AttrOf) and obj.path == "Task" and isinstance(obj.base, AppObj)
    )


def passes_arguments_through(project: Project, classes: TaskClasses, methods: Iterable[str] = CALL_METHODS) -> bool:
    """No class overrides one of ``methods`` (how a call hands its arguments to the task),
    except a `__call__` that only wraps `self.run(*args, **kwargs)` (the Flask app-context base)."""
    wanted = set(methods)
    for cls in classes.classes:
        fact = project.resolver.classes.get((cls.module, cls.qualname))
        if fact is None:
            return False
        for name in sorted(wanted):
            if name in fact.methods and not (name == "__call__" and _forwards(project, cls)):
                return False
        if any(binding.name in wanted for binding in fact.attributes):
            return False
    return True


def _forwards(project: Project, cls: ClassObj) -> bool:
    method = project.resolver.functions.get((cls.module, f"{cls.qualname}.__call__"))
    if method is None or not method.returns:
        return False
    kinds = [param.kind for param in method.params]
    if kinds != ["pos", "vararg", "varkw"]:
        return False
    self_name = method.params[0].name
    for value in method.returns:
        if not (isinstance(value, Call) and value.has_star and not value.kwargs):
            return False
        func = value.func
        name = last_name(func)
        if name not in ("run", "__call__"):
            return False
        # `self.run(*args, **kwargs)`, `super().__call__(*args, **kwargs)`, `Task.__call__(self, *args, **kwargs)`
        if value.args and not (value.args == (Ref("local", self_name),) and name == "__call__"):
            return False
    return True


def checks_arguments(project: Project, task: TaskDef, classes: TaskClasses) -> Optional[bool]:
    """Whether `apply_async` checks the call's arguments (`Task.typing`): the task's `typing=`
    option, else its classes' `typing` attribute, else its apps' `strict_typing` (default True)."""
    option = task.option("typing")
    if option is not None:
        return option.value if isinstance(option, Const) and isinstance(option.value, bool) else None
    for cls in classes.classes:
        fact = project.resolver.classes.get((cls.module, cls.qualname))
        if fact is not None and any(binding.name == "typing" for binding in fact.attributes):
            value = project.resolver.class_attr(cls, "typing")
            if isinstance(value, ValObj) and isinstance(value.value, Const) and isinstance(value.value.value, bool):
                return value.value.value
            return None
    answers = set()
    for app in project.task_apps(task):
        definition = project.apps.get(app)
        if definition is None:
            return None
        strict = definition.call.kwarg("strict_typing")
        if strict is None:
            answers.add(not definition.call.has_star)
            if definition.call.has_star:
                return None
        elif isinstance(strict, Const) and isinstance(strict.value, bool):
            answers.add(strict.value)
        else:
            return None
    return answers.pop() if len(answers) == 1 else None


def bind_option(task: TaskDef) -> Optional[bool]:
    value = task.option("bind")
    if value is None:
        return False
    return value.value if isinstance(value, Const) and isinstance(value.value, bool) else None


def plain_task_function(task: TaskDef) -> bool:
    """A module-level (or nested) function whose only decorator is the task's, defined once under
    its name, with options Celery gets as written (no wrapper, no `**` spread, no pydantic)."""
    function = task.function
    if not task.exact or function.class_qualname is not None or len(function.decorators) != 1:
        return False
    pydantic = task.option("pydantic")
    if pydantic is not None and not (isinstance(pydantic, Const) and pydantic.value is False):
        return False  # pydantic=True wraps the function in one taking (*args, **kwargs)
    same_name = [other for other in task.module.facts.functions if other.qualname == function.qualname]
    return len(same_name) == 1


@dataclass(frozen=True)
class CallerSignature:
    """The parameters a caller fills: the function's, after `self` when `bind=True`."""

    function: FunctionFact
    params: Tuple[ParamFact, ...]
    bound: bool

    @property
    def positional(self) -> Tuple[ParamFact, ...]:
        return tuple(param for param in self.params if param.kind in POSITIONAL)

    @property
    def varargs(self) -> bool:
        return any(param.kind == "vararg" for param in self.params)

    @property
    def varkw(self) -> bool:
        return any(param.kind == "varkw" for param in self.params)

    def keyword_names(self) -> FrozenSet[str]:
        """Names a caller may pass by keyword."""
        return frozenset(param.name for param in self.params if param.kind in ("pos", "kwonly"))

    def names(self) -> FrozenSet[str]:
        return frozenset(param.name for param in self.params if param.kind not in ("vararg", "varkw"))

    def shown(self) -> str:
        parts = []
        for param in self.params:
            prefix = "*" if param.kind == "vararg" else "**" if param.kind == "varkw" else ""
            parts.append(prefix + param.name + ("=..." if param.has_default else ""))
        return "(" + ", ".join(parts) + ")"


def caller_signature(task: TaskDef) -> Optional[CallerSignature]:
    """What callers must pass, or None when that is not known or the declaration itself is
    wrong (a `self` without `bind=True`, `bind=True` with no positional parameter: CEL014)."""
    if not plain_task_function(task):
        return None
    bound = bind_option(task)
    if bound is None:
        return None
    params = task.function.params
    first = params[0] if params else None
    if bound:
        if first is None or first.kind not in (*POSITIONAL, "vararg"):
            return None
        if first.kind != "vararg":
            params = params[1:]  # `self`; with `*args` first, the task lands in args[0]
    elif first is not None and first.kind in POSITIONAL and first.name == "self":
        return None
    return CallerSignature(task.function, params, bound)
