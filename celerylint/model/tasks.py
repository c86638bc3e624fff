"""Phase 3 of the model: the tasks, and every name a task is registered under.

A task is made by a decorator (`@app.task`, `@shared_task`, Celery 3's `@task`/`@periodic_task`,
task decorators of project Celery subclasses), by a name bound to one (`retrying =
shared_task(acks_late=True)`), by a project function that calls one (`def job(**kw): return
app.task(**kw)`), or by calling one on a function (`app.task(func)`, `app.task(bind=True)(func)`).
Its name is what Celery's `gen_task_name` gives (celery/utils/imports.py): `name=` when given,
else the defining module's `__name__` (its full dotted name, folders without `__init__.py` inside
a package included) and the function's `__name__` (not its qualname)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

from celerylint.facts.types import MAIN_SCOPE, MODULE_SCOPE, Attr, BinOp, Call, CallFact, Const, FunctionFact, Loc, Opaque, Ref, Value, last_name
from celerylint.model.apps import AppModel
from celerylint.model.graph import ProgramGraph
from celerylint.model.modules import ModuleInfo
from celerylint.model.resolve import AppObj, AttrOf, ClassObj, ExtObj, FuncObj, Obj, ParamObj, ValObj

SHARED_TASK = frozenset({"celery.shared_task", "celery.app.shared_task"})
# Celery 3's decorators (celery.task, celery.decorators): they register on the current app.
OLD_TASK_DECORATORS = frozenset(
    {
        f"celery.{module}{name}"
        for module in ("task.", "decorators.", "task.base.", "task.task.")
        for name in ("task", "periodic_task")
    }
)
TASK_CLASSES = frozenset({"celery.Task", "celery.app.task.Task", "celery.task.Task", "celery.task.base.Task"})
TASK_DECORATOR_NAMES = frozenset({"task", "shared_task", "periodic_task"})
MAX_HOPS = 3
# What `option()` answers for a keyword a project decorator may pass on unseen (`**options`).
UNKNOWN_OPTION = Opaque("call")


@dataclass(frozen=True)
class TaskDef:
    module: ModuleInfo
    function: FunctionFact
    app: Optional[AppObj]  # None for @shared_task (and Celery 3's @task): the current app
    options: Tuple[Tuple[str, Value], ...]
    decorator_loc: Loc
    # Every name the task may be registered under, the likeliest first; () when not known.
    names: Tuple[str, ...] = ()
    # False when a project decorator may pass options that are not seen (`**options`).
    options_complete: bool = True
    # The decorator is `app.task`/`shared_task` itself (options maybe added by a call or a
    # partial) with no `**` spread: `options` are all the options Celery gets. False for a
    # project wrapper, a Celery subclass's own decorator method or Celery 3's decorators.
    exact: bool = True

    @property
    def name(self) -> str:
        """The registered name: `name=` when given, else module.function as Celery derives it."""
        if self.names:
            return self.names[0]
        for key, value in self.options:
            if key == "name" and isinstance(value, Const) and isinstance(value.value, str):
                return value.value
        return f"{self.module.name}.{self.function.name}"

    @property
    def function_obj(self) -> FuncObj:
        return FuncObj(self.module.name, self.function.qualname)

    @property
    def shared(self) -> Optional[bool]:
        """Whether every app a process finalizes builds its own copy of the task (Celery's
        `shared=True`, the default of `@app.task`; always so for `@shared_task`); None: not known."""
        if self.app is None:
            return True
        value = self.option("shared")
        if value is None:
            return True
        return bool(value.value) if isinstance(value, Const) else None

    def option(self, key: str) -> Optional[Value]:
        for name, value in self.options:
            if name == key:
                return value
        return None if self.options_complete else UNKNOWN_OPTION


@dataclass(frozen=True)
class TaskNames:
    """Every name the project's tasks are registered under."""

    tasks: Dict[str, Optional[TaskDef]]  # name -> its task (None: a class, a call elsewhere)
    derived: FrozenSet[str]  # names made from a module path, which another sys.path root shortens
    known: bool  # False when some task's name cannot be known (then no name can be judged missing)


def find_tasks(graph: ProgramGraph, apps: AppModel) -> Tuple[List[TaskDef], TaskNames]:
    finder = _Finder(graph, apps)
    for info in graph.index.modules():
        if info.may_configure:
            finder.names.known = False  # a module that does not parse may define tasks
        finder.decorated(info)
        finder.task_classes(info)
    for info in graph.index.modules():
        finder.called(info)
    if any(graph.resolver.class_attr(cls, "gen_task_name") is not None for cls in graph.resolver.app_classes):
        finder.names.known = False  # a Celery subclass names its tasks its own way
    names = finder.names
    return finder.tasks, TaskNames(dict(names.tasks), frozenset(names.derived), names.known)


def unread_task_modules(graph: ProgramGraph, apps: AppModel) -> bool:
    """Whether a module read only for its imports (too large, or no Celery words in it) may
    define tasks: it imports Celery or a task decorator (`from proj.tasks import job`). Asked
    only when a rule needs every task name (it resolves many imports). Test code is always
    read that way, and the tasks it defines are never sent by the code that runs on workers."""
    finder = _Finder(graph, apps)
    return any(not info.facts.detailed and not info.is_test and finder.may_define_tasks(info) for info in graph.index.modules())


def constant_text(graph: ProgramGraph, info: ModuleInfo, scope: str, value: Value, depth: int = 0) -> Optional[str]:
    """The string a value always is: a literal, `__name__ + ".x"`, or a name bound to one."""
    if depth > MAX_HOPS:
        return None
    if isinstance(value, Const):
        return value.value if isinstance(value.value, str) else None
    if value == Ref("builtin", "__name__"):
        return info.name
    if isinstance(value, BinOp) and value.op == "Add":
        left = constant_text(graph, info, scope, value.left, depth + 1)
        right = constant_text(graph, info, scope, value.right, depth + 1)
        return left + right if left is not None and right is not None else None
    obj = graph.resolve(info, scope, value)
    if isinstance(obj, ValObj) and obj.value != value:
        found = graph.index.by_name.get(obj.module)
        return constant_text(graph, found, obj.scope, obj.value, depth + 1) if found is not None else None
    return None


@dataclass
class _Names:
    """The names tasks are registered under, collected; `known` turns False on one that is not."""

    tasks: Dict[str, Optional[TaskDef]] = field(default_factory=dict)
    derived: Set[str] = field(default_factory=set)
    known: bool = True

    def add(self, names: Tuple[str, ...], derived: Tuple[str, ...], task: Optional[TaskDef] = None) -> None:
        for name in names:
            self.tasks.setdefault(name, task)
        self.derived.update(derived)


@dataclass(frozen=True)
class _Maker:
    """What makes a task of a function: its app (None: the current app), the options it passes,
    whether they are all seen, its `name=` if given, and for a project decorator
    (`@job("x")`) the call whose strings may be the name."""

    app: Optional[AppObj]
    options: Tuple[Tuple[str, Value], ...]
    info: ModuleInfo
    scope: str
    complete: bool = True
    wrapper: Optional[Call] = None
    owned: bool = True  # False: an `app.task` whose app is not one known app
    exact: bool = True  # Celery's own decorator (see TaskDef.exact)


class _Finder:
    """Finds tasks and their names in one pass over each module's functions and calls."""

    def __init__(self, graph: ProgramGraph, apps: AppModel) -> None:
        self.graph = graph
        self.apps = apps
        self.tasks: List[TaskDef] = []
        self.names = _Names()
        self._wrappers: Dict[FuncObj, Optional[_Maker]] = {}
        self.seen: Set[str] = set(TASK_DECORATOR_NAMES)  # the names task decorators go by
        self._imported_makers: Dict[str, bool] = {}
        self._task_calls: Dict[str, List[CallFact]] = {}

    # --- tasks -----------------------------------------------------------------------------

    def decorated(self, info: ModuleInfo) -> None:
        for function in info.facts.functions:
            for decorator, loc in function.decorators:
                maker = self.maker(info, function.scope, decorator)
                if maker is None:
                    continue
                self.seen.add(last_name(decorator.func if isinstance(decorator, Call) else decorator))
                self._add_task(maker, info, function, loc)
                break

    def called(self, info: ModuleInfo) -> None:
        """`app.task(func)`, `app.task(bind=True)(func)`, `retrying(func)`, `app.task(name=...)`:
        calls of a task decorator (of a name seen decorating, or named like one)."""
        seen = self.seen
        for call in info.facts.calls:
            func = call.value.func
            # last_name(func) in seen, inline: this looks at every call of the project.
            if isinstance(func, Ref):
                if func.path[func.path.rfind(".") + 1 :] not in seen:
                    continue
            elif isinstance(func, Attr):
                if func.attr not in seen:
                    continue
            elif not isinstance(func, Call) and "" not in seen:
                continue
            maker = self.maker(info, call.scope, func)
            if maker is None:
                continue
            given = call.value.kwarg("name")
            # `app.task(name=...)` wherever it is; a wrapper's parameter is named where it is used.
            if given is not None and maker.wrapper is None and not isinstance(self.graph.resolve(info, call.scope, given), ParamObj):
                self._given(info, call.scope, given)
            if not call.value.args:
                continue
            target = self.graph.resolve(info, call.scope, call.value.args[0])
            if isinstance(target, FuncObj):
                self._task_of_call(maker, info, call, target)
            elif maker.wrapper is None and not isinstance(target, ParamObj):
                self.names.known = False

    def _task_of_call(self, maker: _Maker, info: ModuleInfo, call: CallFact, target: FuncObj) -> None:
        """A task made by a call on a function of the same module is a task there; one made from
        a function of another module only adds its name (its module and the call's differ)."""
        function = self.graph.resolver.functions.get((target.module, target.qualname))
        if maker.wrapper is None:
            maker = _Maker(maker.app, maker.options + call.value.kwargs, maker.info, maker.scope, maker.complete and not call.value.has_star, None, maker.owned, maker.exact)
        if target.module == info.name and function is not None and function.scope == MODULE_SCOPE:
            if not any(task.function_obj == target for task in self.tasks):
                self._add_task(maker, info, function, call.loc)
            return
        names, derived = self._names_of(maker, target.module, target.qualname.rpartition(".")[2])
        self.names.add(names, derived)

    def _add_task(self, maker: _Maker, info: ModuleInfo, function: FunctionFact, loc: Loc) -> None:
        names, derived = self._names_of(maker, info.name, function.name)
        task = TaskDef(info, function, maker.app, maker.options, loc, names, maker.complete, maker.exact and maker.complete) if maker.owned else None
        if task is not None:
            self.tasks.append(task)
        self.names.add(names, derived, task)

    def _names_of(self, maker: _Maker, module: str, function: str) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """The names a task may be registered under, and those of them derived from its module's
        name; ((), ()) when the name is not known (then `names.known` turns False)."""
        default = f"{module}.{function}"
        if maker.wrapper is not None:
            # A project decorator's strings may be the name (`@job("emails.send")`); its own
            # `name=` most likely is.
            named = [value for key, value in maker.wrapper.kwargs if key == "name"] or self._positional_name(maker)
            arguments = (*named, *maker.wrapper.args, *(value for key, value in maker.wrapper.kwargs if key != "name"))
            texts = [constant_text(self.graph, maker.info, maker.scope, argument) for argument in arguments]
            first = [texts[0]] if named and texts[0] is not None else []
            rest = [text for text in texts[len(first):] if text is not None and text not in (default, *first)]
            return (*first, default, *rest), (default,)
        given = next((value for key, value in maker.options if key == "name"), None)
        if given is None:
            return (default, *self._main_names(maker, module, function)), (default,)
        text = constant_text(self.graph, maker.info, maker.scope, given)
        if text is None:
            self.names.known = False
            return (), ()
        return (text,), ()

    def _positional_name(self, maker: _Maker) -> List[Value]:
        """The argument a project decorator takes as its `name` parameter (`def job(name, **kw)`
        called as `@job("purge-datasets")`)."""
        call = maker.wrapper
        func = self.graph.resolve(maker.info, maker.scope, call.func) if call is not None else None
        function = self.graph.resolver.functions.get((func.module, func.qualname)) if isinstance(func, FuncObj) else None
        if call is None or function is None:
            return []
        params = [param.name for param in function.params if param.name not in ("self", "cls")]
        if "name" in params and params.index("name") < len(call.args):
            return [call.args[params.index("name")]]
        return []

    def _main_names(self, maker: _Maker, module: str, function: str) -> Tuple[str, ...]:
        """The names a task gets when its module runs as a script (`python tasks.py worker`):
        gen_task_name gives `<app.main>.<function>` for a module named `__main__`, or
        `__main__.<function>` when the app has no main name."""
        info = self.graph.index.by_name.get(module)
        if info is None or not any(call.scope == MAIN_SCOPE for call in info.facts.calls):
            return ()
        apps = [maker.app] if maker.app is not None else list(self.apps.definitions)
        names: List[str] = []
        for app in apps:
            call = self.apps.definitions[app].call
            main = call.args[0] if call.args else call.kwarg("main")
            text = constant_text(self.graph, self.apps.definitions[app].module, self.apps.definitions[app].scope, main) if main is not None else None
            candidate = f"{text}.{function}" if text else f"__main__.{function}"
            if main is not None and text is None:
                self.names.known = False  # a main name computed at run time
            elif candidate != f"{module}.{function}" and candidate not in names:
                names.append(candidate)
        if maker.app is None and f"__main__.{function}" not in names:
            names.append(f"__main__.{function}")
        return tuple(names)

    def _given(self, info: ModuleInfo, scope: str, value: Value) -> None:
        text = constant_text(self.graph, info, scope, value)
        if text is None:
            self.names.known = False
        else:
            self.names.add((text,), ())

    def task_classes(self, info: ModuleInfo) -> None:
        """Task subclasses: registered as module.ClassName, or their `name` attribute."""
        for cls in info.facts.classes:
            if not self.graph.resolver.reaches_external(ClassObj(info.name, cls.qualname), TASK_CLASSES):
                continue
            default = f"{info.name}.{cls.name}"
            self.names.add((default,), (default,))
            for binding in cls.attributes:
                if binding.name == "name" and binding.value != Const(None):
                    self._given(info, cls.scope, binding.value)

    # --- what makes tasks ------------------------------------------------------------------

    def maker(self, info: ModuleInfo, scope: str, value: Value, depth: int = 0) -> Optional[_Maker]:
        """`app.task`, `shared_task`, Celery 3's `task`, `app.task(**options)`, a name bound to one
        (`retrying = shared_task(acks_late=True)`), a Celery subclass's task decorator, or a
        project function that calls one of them."""
        if depth > MAX_HOPS:
            return None
        if isinstance(value, Call):
            made = self._instance_decorator(info, scope, value) or self._partial(info, scope, value, depth)
            if made is not None:
                return made
            inner = self.maker(info, scope, value.func, depth + 1)
            if inner is None:
                return None
            if inner.wrapper is not None:
                return _Maker(inner.app, (), info, scope, False, value, inner.owned)
            if any(key == "name" for key, _ in inner.options):
                return None  # `app.task(name="x")(...)` applied again: not a decorator call
            return _Maker(inner.app, inner.options + value.kwargs, info, scope, inner.complete and not value.has_star, None, inner.owned, inner.exact)
        if not isinstance(value, (Ref, Attr)):
            return None
        obj = self.graph.resolve(info, scope, value)
        direct = self._decorator(info, scope, value, obj)
        if direct is not None:
            return direct
        if isinstance(obj, FuncObj):
            wrapped = self.wraps(obj)
            if wrapped is not None:
                return _Maker(wrapped.app, (), info, scope, False, Call(value), wrapped.owned)
        bound = self._binding(info, value)
        if bound is not None and isinstance(bound[1], Call):
            return self.maker(bound[0], MODULE_SCOPE, bound[1], depth + 1)
        return None

    def _partial(self, info: ModuleInfo, scope: str, call: Call, depth: int) -> Optional[_Maker]:
        """`task = functools.partial(app.task, base=BaseTask)`: the decorator with those options."""
        func = self.graph.resolve(info, scope, call.func)
        if not (isinstance(func, ExtObj) and func.path == "functools.partial" and call.args):
            return None
        inner = self.maker(info, scope, call.args[0], depth + 1)
        if inner is None or inner.wrapper is not None:
            return None
        complete = inner.complete and not call.has_star and len(call.args) == 1
        return _Maker(inner.app, inner.options + call.kwargs, info, scope, complete, None, inner.owned, inner.exact)

    def _instance_decorator(self, info: ModuleInfo, scope: str, call: Call) -> Optional[_Maker]:
        """`@retryable_task(name="x")`: an instance of a project class whose `__call__` makes the
        task (`return shared_task(*self.args, **self.kwargs)(inner)`)."""
        cls = self.graph.resolve(info, scope, call.func)
        if not isinstance(cls, ClassObj):
            return None
        method = self.graph.resolver.class_attr(cls, "__call__")
        wrapped = self.wraps(method) if isinstance(method, FuncObj) else None
        return _Maker(wrapped.app, (), info, scope, False, call, wrapped.owned) if wrapped is not None else None

    def _decorator(self, info: ModuleInfo, scope: str, value: Value, obj: Obj) -> Optional[_Maker]:
        if isinstance(obj, ExtObj) and obj.path in SHARED_TASK | OLD_TASK_DECORATORS:
            return _Maker(None, (), info, scope, exact=obj.path in SHARED_TASK)
        if isinstance(obj, AttrOf) and obj.path == "task":
            owners = self.apps.apps_of(obj.base)
            return _Maker(owners[0] if len(owners) == 1 else None, (), info, scope, owned=len(owners) == 1) if owners else None
        if isinstance(obj, FuncObj) and isinstance(value, Ref) and value.last != "task" and "." in value.path and _wraps_app_task(self.graph, obj):
            # A task decorator of a Celery subclass (IndicoCelery.periodic_task) on an app.
            owners = self.apps.apps_of(self.graph.resolve(info, scope, Ref(value.scope, value.path.rpartition(".")[0])))
            return _Maker(owners[0] if len(owners) == 1 else None, (), info, scope, owned=len(owners) == 1, exact=False) if owners else None
        return None

    def wraps(self, func: FuncObj, depth: int = 0) -> Optional[_Maker]:
        """A project function that calls `app.task(...)`, `shared_task(...)` or another such
        function (`def job(name): return task(name=name)`): a task decorator of its own."""
        if func not in self._wrappers:
            self._wrappers[func] = None  # recursion ends here
            self._wrappers[func] = self._wraps(func, depth)
        return self._wrappers[func]

    def _wraps(self, func: FuncObj, depth: int) -> Optional[_Maker]:
        info = self.graph.index.by_name.get(func.module)
        if info is None or depth > MAX_HOPS:
            return None
        if info.name not in self._task_calls:
            self._task_calls[info.name] = [call for call in info.facts.calls if last_name(call.value.func) in TASK_DECORATOR_NAMES]
        for call in self._task_calls[info.name]:
            if not (call.scope == func.qualname or call.scope.startswith(func.qualname + ".")):
                continue
            obj = self.graph.resolve(info, call.scope, call.value.func)
            found = self._decorator(info, call.scope, call.value.func, obj)
            if found is not None:
                return found
            if isinstance(obj, FuncObj):
                inner = self.wraps(obj, depth + 1)
                if inner is not None:
                    return inner
        return None

    def _binding(self, info: ModuleInfo, value: Value) -> Optional[Tuple[ModuleInfo, Value]]:
        """The value a module-level name is bound to, in its own module."""
        if not isinstance(value, Ref) or value.scope not in ("global", "import"):
            return None
        index = self.graph.index
        if value.scope == "global":
            module, name = info, value.path
        else:
            found, rest = index.longest_module_prefix(index.absolute(info, value.path), info)
            if found is None or len(rest) != 1:
                return None
            module, name = found, rest[0]
        binding = self.graph.resolver.globals.get(module.name, {}).get(name)
        return (module, binding.value) if binding is not None and "." not in name else None

    def may_define_tasks(self, info: ModuleInfo) -> bool:
        """A module read only for its imports (too large, or no Celery words in it) that imports
        Celery or a task decorator (`from proj.tasks import job`): its tasks are not known."""
        index = self.graph.index
        for fact in info.facts.imports:
            module = index.absolute(info, fact.module)
            if module.split(".", 1)[0] == "celery":
                return True
            if index.get(module, info) is None and not any(index.get(f"{module}.{item}", info) for item in fact.names):
                continue  # an installed package's names: Celery's own were caught above
            for item in fact.names if fact.is_from else ():
                if self._imports_maker(info, f"{module}.{item}"):
                    return True
        return False

    def _imports_maker(self, info: ModuleInfo, dotted: str) -> bool:
        """Whether an imported name is a task maker; the same names are imported by many modules."""
        if dotted not in self._imported_makers:
            self._imported_makers[dotted] = self.maker(info, MODULE_SCOPE, Ref("import", dotted)) is not None
        return self._imported_makers[dotted]


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
