"""Phase 3 of the model: the tasks, found by their decorators (`@app.task`, `@shared_task`, and
task decorators of project Celery subclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from celerylint.facts.types import Call, Const, FunctionFact, Loc, Ref, Value
from celerylint.model.apps import AppModel
from celerylint.model.graph import ProgramGraph
from celerylint.model.modules import ModuleInfo
from celerylint.model.resolve import AppObj, AttrOf, ClassObj, ExtObj, FuncObj

SHARED_TASK = frozenset({"celery.shared_task", "celery.app.shared_task"})


@dataclass(frozen=True)
class TaskDef:
    module: ModuleInfo
    function: FunctionFact
    app: Optional[AppObj]  # None for @shared_task
    options: Tuple[Tuple[str, Value], ...]
    decorator_loc: Loc
    # The decorator is `app.task`/`shared_task` itself with no `**` spread: `options` are all
    # the options Celery gets (False for a project wrapper such as a Celery subclass's method).
    exact: bool = True

    @property
    def name(self) -> str:
        """The registered name: `name=` when given, else module.function as Celery derives it."""
        for key, value in self.options:
            if key == "name" and isinstance(value, Const) and isinstance(value.value, str):
                return value.value
        return f"{self.module.name}.{self.function.name}"

    @property
    def function_obj(self) -> FuncObj:
        return FuncObj(self.module.name, self.function.qualname)

    def option(self, key: str) -> Optional[Value]:
        for name, value in self.options:
            if name == key:
                return value
        return None


def find_tasks(graph: ProgramGraph, apps: AppModel) -> List[TaskDef]:
    tasks: List[TaskDef] = []
    for info in graph.index.modules():
        for function in info.facts.functions:
            for decorator, loc in function.decorators:
                task = _task_from_decorator(graph, apps, info, function, decorator, loc)
                if task is not None:
                    tasks.append(task)
                    break
    return tasks


def _task_from_decorator(
    graph: ProgramGraph, apps: AppModel, info: ModuleInfo, function: FunctionFact, decorator: Value, loc: Loc
) -> Optional[TaskDef]:
    options: Tuple[Tuple[str, Value], ...] = ()
    target = decorator
    spread = False
    if isinstance(decorator, Call):
        target, options, spread = decorator.func, decorator.kwargs, decorator.has_star
    if not isinstance(target, Ref):
        return None
    obj = graph.resolve(info, function.scope, target)
    if isinstance(obj, ExtObj) and obj.path in SHARED_TASK:
        return TaskDef(info, function, None, options, loc, not spread)
    exact = not spread
    if isinstance(obj, AttrOf) and obj.path == "task":
        owners = apps.apps_of(obj.base)
    elif isinstance(obj, FuncObj) and target.last != "task" and _wraps_app_task(graph, obj):
        # A task decorator of a Celery subclass (IndicoCelery.periodic_task) on an app.
        owners = apps.apps_of(graph.resolve(info, function.scope, Ref(target.scope, target.path.rpartition(".")[0])))
        exact = False
    else:
        return None
    return TaskDef(info, function, owners[0], options, loc, exact) if len(owners) == 1 else None


def _wraps_app_task(graph: ProgramGraph, method: FuncObj) -> bool:
    """A method of a project Celery subclass that calls ``self.task(...)``."""
    owner = method.qualname.rpartition(".")[0]
    if ClassObj(method.module, owner) not in graph.resolver.app_classes:
        return False
    info = graph.index.by_name.get(method.module)
    if info is None:
        return False
    for call in info.facts.calls:
        func = call.value.func
        if call.scope.startswith(method.qualname) and isinstance(func, Ref) and func.path == "self.task":
            return True
    return False
