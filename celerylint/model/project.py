"""The project model: Celery apps, their configuration, tasks and worker entry points."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

from celerylint.facts.types import (
    MODULE_SCOPE,
    Attr,
    Call,
    CallFact,
    Const,
    FunctionFact,
    Loc,
    Ref,
    Sub,
    Value,
)
from celerylint.model.commands import DeployFacts, WorkerCommand
from celerylint.model.config import (
    FROM_OBJECT,
    PRECONF,
    Entry,
    Mapping,
    Opacity,
    Origin,
    Place,
    ResolvedConfig,
    Source,
    resolve_config,
)
from celerylint.model.mappings import ConfigMappings
from celerylint.model.modules import ModuleIndex, ModuleInfo
from celerylint.model.resolve import (
    UNKNOWN,
    AppClassObj,
    AppObj,
    AttrOf,
    ClassObj,
    Ctx,
    ExtObj,
    FuncObj,
    Obj,
    ParamObj,
    Resolver,
)

SHARED_TASK = frozenset({"celery.shared_task", "celery.app.shared_task"})


@dataclass(frozen=True)
class AppDef:
    obj: AppObj
    module: ModuleInfo
    scope: str
    call: Call
    loc: Loc


@dataclass(frozen=True)
class TaskDef:
    module: ModuleInfo
    function: FunctionFact
    app: Optional[AppObj]  # None for @shared_task
    options: Tuple[Tuple[str, Value], ...]
    decorator_loc: Loc

    @property
    def name(self) -> str:
        for key, value in self.options:
            if key == "name" and isinstance(value, Const) and isinstance(value.value, str):
                return value.value
        return f"{self.module.name}.{self.function.name}"

    def option(self, key: str) -> Optional[Value]:
        for name, value in self.options:
            if name == key:
                return value
        return None


@dataclass
class Closure:
    """What a worker process imports and runs at start."""

    modules: Set[str] = field(default_factory=set)
    functions: Set[Tuple[str, str]] = field(default_factory=set)
    uncertain: List[str] = field(default_factory=list)
    via: Dict[str, str] = field(default_factory=dict)  # module -> how it was reached

    def places(self) -> FrozenSet[Place]:
        return frozenset({(m, MODULE_SCOPE) for m in self.modules} | set(self.functions))

    def runs(self, module: str, scope: str) -> bool:
        return (module, scope) in self.functions or (scope == MODULE_SCOPE and module in self.modules)


@dataclass
class WorkerEntry:
    spec: str  # "module", "module:attr"
    origin: str  # where it was declared, or "fallback"
    modules: Tuple[str, ...]  # entry modules, empty when unresolved
    explicit: bool
    options: Tuple[str, ...] = ()
    closure: Closure = field(default_factory=Closure)
    command: Optional[Origin] = None  # the deployment-file line that starts it

    @property
    def resolved(self) -> bool:
        return bool(self.modules)


class Project:
    def __init__(self, index: ModuleIndex, deploy: DeployFacts, worker_apps: Sequence[str] = ()) -> None:
        self.index = index
        self.resolver = Resolver(index)
        self.deploy = deploy
        self.resolver.find_app_classes()
        self._importers: Optional[Dict[str, Set[str]]] = None
        self._imported: Dict[Tuple[str, Optional[str]], Set[str]] = {}
        self._calls_by_name = self._index_calls()
        self.apps: Dict[AppObj, AppDef] = self._find_apps()
        self.mappings = ConfigMappings(self)
        self.app_sources: Dict[AppObj, List[Source]] = {app: [] for app in self.apps}
        self.autodiscover: List[Tuple[AppObj, CallFact, ModuleInfo]] = []
        self.task_bases: Dict[AppObj, List[Tuple[Value, ModuleInfo, str, Loc]]] = {}
        self._find_celery_config()
        self.tasks: List[TaskDef] = self._find_tasks()
        self._config_cache: Dict[Tuple[AppObj, Optional[FrozenSet[Place]]], ResolvedConfig] = {}
        self.workers: List[WorkerEntry] = self._find_workers(worker_apps)
        for worker in self.workers:
            if not worker.closure.modules and not worker.closure.uncertain:
                worker.closure = self._closure(worker)

    # --- indexing ---------------------------------------------------------------

    def _index_calls(self) -> Dict[str, List[Tuple[ModuleInfo, CallFact]]]:
        result: Dict[str, List[Tuple[ModuleInfo, CallFact]]] = {}
        for info in self.index.modules():
            for call in info.facts.calls:
                func = call.value.func
                if isinstance(func, Ref):
                    result.setdefault(func.last, []).append((info, call))
                elif isinstance(func, Attr):
                    result.setdefault(func.attr, []).append((info, call))
        return result

    def calls_named(self, *names: str) -> Iterable[Tuple[ModuleInfo, CallFact]]:
        for name in names:
            yield from self._calls_by_name.get(name, ())

    def resolve(self, info: ModuleInfo, scope: str, value: Value) -> Obj:
        return self.resolver.resolve(Ctx(info, scope), value)

    def origin(self, info: ModuleInfo, loc: Loc) -> Origin:
        return Origin(info.rel, loc.line, loc.col)

    # --- apps --------------------------------------------------------------------

    def _find_apps(self) -> Dict[AppObj, AppDef]:
        names = {"Celery"} | {cls.qualname.rsplit(".", 1)[-1] for cls in self.resolver.app_classes}
        apps: Dict[AppObj, AppDef] = {}
        for info, call in self.calls_named(*names):
            func = self.resolve(info, call.scope, call.value.func)
            if not self.resolver.is_celery_class(func):
                continue
            obj = self.resolve(info, call.scope, call.value)
            if isinstance(obj, AppObj) and obj not in apps:
                apps[obj] = AppDef(obj, info, call.scope, call.value, call.loc)
                if isinstance(func, ClassObj):
                    self.resolver.app_class_of[obj] = func
        return apps

    def app_label(self, app: AppObj) -> str:
        definition = self.apps[app]
        return f"{definition.module.rel}:{definition.loc.line}"

    def receivers(self, info: ModuleInfo, scope: str, value: Value, depth: int = 0) -> List[Obj]:
        """What ``value`` may be, following function parameters to their call sites."""
        obj = self.resolve(info, scope, value)
        if depth > 3:
            return [obj]
        if isinstance(obj, ParamObj):
            return self._param_values(obj, depth)
        if isinstance(value, Ref) and value.scope == "local" and "." in value.path:
            root, _, rest = value.path.partition(".")
            base = self.resolve(info, scope, Ref("local", root))
            if isinstance(base, ParamObj):
                results = []
                for candidate in self._param_values(base, depth):
                    for attr in rest.split("."):
                        candidate = self.resolver.getattr(candidate, attr)
                    results.append(candidate)
                return results
        return [obj]

    def _param_values(self, param: ParamObj, depth: int) -> List[Obj]:
        function = self.resolver.functions.get((param.module, param.function))
        if function is None:
            return [UNKNOWN]
        position = next((i for i, p in enumerate(function.params) if p.name == param.name), -1)
        if function.class_qualname:
            position -= 1
        target = FuncObj(param.module, param.function)
        found: List[Obj] = []
        for info, call in self.calls_named(function.name):
            if self.resolve(info, call.scope, call.value.func) != target:
                continue
            argument = call.value.kwarg(param.name)
            if argument is None and 0 <= position < len(call.value.args):
                argument = call.value.args[position]
            if argument is not None:
                found.extend(self.receivers(info, call.scope, argument, depth + 1))
        return found or [UNKNOWN]

    def apps_of(self, obj: Obj) -> List[AppObj]:
        if isinstance(obj, AppObj):
            return [obj] if obj in self.apps else []
        if isinstance(obj, AppClassObj):
            return [app for app in self.apps if self.resolver.app_class_of.get(app) == obj.cls]
        return []

    # --- Flask config ------------------------------------------------------------

    # --- Celery config -----------------------------------------------------------

    def _find_celery_config(self) -> None:
        hidden = self._hidden_by_broken_modules()
        for app, definition in self.apps.items():
            self._constructor_sources(app, definition)
            for info in hidden.get(app, ()):
                # In force wherever the broken module runs: a worker that never imports it
                # still has a known configuration.
                place = (info.name, MODULE_SCOPE)
                opacity = Opacity(f"{info.rel} cannot be analysed", place, Origin(info.rel, 1, 1))
                self.app_sources[app].append(Source((), (opacity,), FROM_OBJECT, None, place))
        methods = ("update", "setdefault", "config_from_object", "config_from_envvar", "add_defaults", "autodiscover_tasks")
        for info, call in self.calls_named(*methods):
            self._celery_call(info, call)
        for info in self.index.modules():
            for store in info.facts.stores:
                self._celery_store(info, store.target, store.value, store.scope, store.loc)

    def _hidden_by_broken_modules(self) -> Dict[AppObj, List[ModuleInfo]]:
        """Apps whose configuration a broken module may change: a module that does not parse
        (or could not be read) may configure an app that runs in the same process, that is an
        app whose module is imported by the broken module's importers. A broken module that
        nothing imports runs in no process and hides nothing."""
        importers = self.importers()
        hidden: Dict[AppObj, List[ModuleInfo]] = {}
        for info in sorted(self.index.modules(), key=lambda m: m.rel):
            if not info.may_configure or info.is_test:
                continue
            users = self._transitive({info.name}, lambda name: importers.get(name, set()))
            users.discard(info.name)
            users = {name for name in users if not self.index.by_name[name].is_test}
            if not users:
                continue
            reached = self._transitive(users, self._imports_of)
            for app, definition in self.apps.items():
                if definition.module.name in reached:
                    hidden.setdefault(app, []).append(info)
        return hidden

    def _imports_of(self, name: str) -> Set[str]:
        info = self.index.by_name.get(name)
        return self.imported_modules(info, None) if info is not None else set()

    @staticmethod
    def _transitive(starts: Set[str], step: Callable[[str], Set[str]]) -> Set[str]:
        seen = set(starts)
        todo = list(starts)
        while todo:
            for name in step(todo.pop()):
                if name not in seen:
                    seen.add(name)
                    todo.append(name)
        return seen

    def _constructor_sources(self, app: AppObj, definition: AppDef) -> None:
        info, call = definition.module, definition.call
        place = (info.name, definition.scope)
        origin = self.origin(info, definition.loc)
        renamed = {"broker": "broker_url", "backend": "result_backend"}
        entries = []
        namespace = None
        for key, value in call.kwargs:
            if key == "namespace":
                namespace = value.value if isinstance(value, Const) and isinstance(value.value, str) else None
            elif key == "config_source":
                mapping = self.mappings.mapping_for(info, definition.scope, value, place, origin)
                self.app_sources[app].append(Source(tuple(mapping.entries), tuple(mapping.opaque), FROM_OBJECT, None, place))
            elif key == "task_cls":
                self.task_bases.setdefault(app, []).append((value, info, definition.scope, definition.loc))
            elif isinstance(value, Const) and value.value is None:
                continue
            else:
                entries.append(Entry(renamed.get(key, key), value, place, origin))
        opaque = (Opacity("**kwargs", place, origin),) if call.has_star else ()
        self.app_sources[app].append(Source(tuple(entries), opaque, PRECONF, namespace, place))

    def _celery_call(self, info: ModuleInfo, call: CallFact) -> None:
        func = call.value.func
        if not isinstance(func, Ref) or "." not in func.path:
            return
        method = func.last
        receiver_path = func.path[: -len(method) - 1]
        on_conf = receiver_path.endswith(".conf") or receiver_path == "conf"
        if method in ("update", "setdefault"):
            if not on_conf:
                return
            receiver_path = receiver_path[: -len(".conf")]
        elif on_conf:
            return
        if not receiver_path:
            return
        place = (info.name, call.scope)
        origin = self.origin(info, call.loc)
        for obj in self.receivers(info, call.scope, Ref(func.scope, receiver_path)):
            for app in self.apps_of(obj):
                self._apply_call(app, info, call, method, place, origin)

    def _apply_call(self, app: AppObj, info: ModuleInfo, call: CallFact, method: str, place: Place, origin: Origin) -> None:
        value = call.value
        sources = self.app_sources[app]
        if method == "autodiscover_tasks":
            self.autodiscover.append((app, call, info))
            return
        if method in ("config_from_envvar", "add_defaults"):
            why = f"{method}() reads configuration celerylint cannot see"
            sources.append(Source((), (Opacity(why, place, origin),), FROM_OBJECT, None, place))
            return
        if method == "config_from_object":
            namespace_value = value.kwarg("namespace")
            namespace = None
            if isinstance(namespace_value, Const) and isinstance(namespace_value.value, str):
                namespace = namespace_value.value
            source = value.args[0] if value.args else value.kwarg("obj")
            mapping = self.mappings.mapping_for(info, call.scope, source, place, origin) if source is not None else Mapping()
            sources.append(Source(tuple(mapping.entries), tuple(mapping.opaque), FROM_OBJECT, namespace, place))
            return
        mapping = Mapping([Entry(key, item, place, origin) for key, item in value.kwargs])
        if method == "update":
            for argument in value.args[:1]:
                mapping.extend(self.mappings.mapping_for(info, call.scope, argument, place, origin))
        elif method == "setdefault" and len(value.args) == 2 and isinstance(value.args[0], Const):
            mapping.entries.append(Entry(str(value.args[0].value), value.args[1], place, origin))
        if value.has_star:
            mapping.opaque.append(Opacity("**kwargs", place, origin))
        sources.append(Source(tuple(mapping.entries), tuple(mapping.opaque), PRECONF, None, place))

    def _celery_store(self, info: ModuleInfo, target: Value, value: Value, scope: str, loc: Loc) -> None:
        key: Optional[str] = None
        receiver: Optional[Ref] = None
        if isinstance(target, Ref) and ".conf." in target.path:
            head, _, key = target.path.rpartition(".conf.")
            receiver = Ref(target.scope, head)
        elif isinstance(target, Sub) and isinstance(target.base, Ref) and target.base.path.endswith(".conf"):
            if isinstance(target.key, Const) and isinstance(target.key.value, str):
                key = target.key.value
                receiver = Ref(target.base.scope, target.base.path[: -len(".conf")])
        elif isinstance(target, Ref) and target.path.endswith(".Task"):
            receiver = Ref(target.scope, target.path[: -len(".Task")])
            for obj in self.receivers(info, scope, receiver):
                for app in self.apps_of(obj):
                    self.task_bases.setdefault(app, []).append((value, info, scope, loc))
            return
        if key is None or receiver is None or "." in key:
            return
        place = (info.name, scope)
        entry = Entry(key, value, place, self.origin(info, loc))
        for obj in self.receivers(info, scope, receiver):
            for app in self.apps_of(obj):
                self.app_sources[app].append(Source((entry,), (), PRECONF, None, place))

    def config(self, app: AppObj, executed: Optional[FrozenSet[Place]] = None) -> ResolvedConfig:
        key = (app, executed)
        if key not in self._config_cache:
            resolved = resolve_config(self.app_sources.get(app, []), executed)
            self._config_cache[key] = resolved
        return self._config_cache[key]

    # --- tasks -------------------------------------------------------------------

    def _find_tasks(self) -> List[TaskDef]:
        tasks: List[TaskDef] = []
        for info in self.index.modules():
            for function in info.facts.functions:
                for decorator, loc in function.decorators:
                    task = self._task_from_decorator(info, function, decorator, loc)
                    if task is not None:
                        tasks.append(task)
                        break
        return tasks

    def _task_from_decorator(self, info: ModuleInfo, function: FunctionFact, decorator: Value, loc: Loc) -> Optional[TaskDef]:
        options: Tuple[Tuple[str, Value], ...] = ()
        target = decorator
        if isinstance(decorator, Call):
            target, options = decorator.func, decorator.kwargs
        if not isinstance(target, Ref):
            return None
        obj = self.resolve(info, function.scope, target)
        if isinstance(obj, ExtObj) and obj.path in SHARED_TASK:
            return TaskDef(info, function, None, options, loc)
        if isinstance(obj, AttrOf) and obj.path == "task":
            apps = self.apps_of(obj.base)
        elif isinstance(obj, FuncObj) and target.last != "task" and self._wraps_app_task(obj):
            # A task decorator of a Celery subclass (IndicoCelery.periodic_task) on an app.
            apps = self.apps_of(self.resolve(info, function.scope, Ref(target.scope, target.path.rpartition(".")[0])))
        else:
            return None
        return TaskDef(info, function, apps[0], options, loc) if len(apps) == 1 else None

    def _wraps_app_task(self, method: FuncObj) -> bool:
        """A method of a project Celery subclass that calls ``self.task(...)``."""
        owner = method.qualname.rpartition(".")[0]
        if ClassObj(method.module, owner) not in self.resolver.app_classes:
            return False
        info = self.index.by_name.get(method.module)
        if info is None:
            return False
        for call in info.facts.calls:
            func = call.value.func
            if call.scope.startswith(method.qualname) and isinstance(func, Ref) and func.path == "self.task":
                return True
        return False

    def task_for(self, info: ModuleInfo, scope: str, value: Value) -> Optional[TaskDef]:
        obj = self.resolve(info, scope, value)
        if not isinstance(obj, FuncObj):
            return None
        for task in self.tasks:
            if task.module.name == obj.module and task.function.qualname == obj.qualname:
                return task
        return None

    # --- workers ---------------------------------------------------------------------

    def _find_workers(self, worker_apps: Sequence[str]) -> List[WorkerEntry]:
        if worker_apps:
            return [self._entry(spec, "[tool.celerylint] worker-apps", ()) for spec in worker_apps]
        commands: List[WorkerCommand] = list(self.deploy.workers)
        if commands:
            entries: Dict[str, WorkerEntry] = {}
            for command in commands:
                entry = self._entry(command.app, str(command.origin), command.options)
                entries.setdefault(command.app, replace(entry, command=command.origin))
            return list(entries.values())
        return self._fallback_entries()

    def _entry(self, spec: str, origin: str, options: Tuple[str, ...]) -> WorkerEntry:
        return WorkerEntry(spec, origin, self._entry_modules(spec), True, options)

    def _entry_modules(self, spec: str) -> Tuple[str, ...]:
        """The modules `celery -A spec` imports, as celery.app.utils.find_app does."""
        module, _, attr = spec.partition(":")
        info = self.index.get(module)
        if info is None and not attr and "." in module:
            info = self.index.get(module.rpartition(".")[0])
        if info is None:
            info = self._unique_suffix_match(module)
        if info is None:
            return ()
        modules = [info.name]
        globals_ = self.resolver.globals.get(info.name, {})
        imports = self.resolver.module_imports.get(info.name, {})
        has_app = any(name in globals_ or name in imports for name in ("app", "celery"))
        if info.is_package and not attr and not has_app:
            sub = self.index.get(f"{info.name}.celery", info)
            if sub is not None:
                modules.append(sub.name)
        return tuple(modules)

    def _unique_suffix_match(self, module: str) -> Optional[ModuleInfo]:
        """A worker started from a sub-folder names modules relative to it."""
        matches = [info for info in self.index.modules() if info.name.endswith("." + module)]
        return matches[0] if len(matches) == 1 else None

    def _fallback_entries(self) -> List[WorkerEntry]:
        """No worker command found: every module that creates an app, then every module that
        imports one of those and that nothing imports (unless a creator's worker reaches it)."""
        creators = sorted({d.module.name for d in self.apps.values() if not d.module.is_test})
        entries = [WorkerEntry(name, "fallback", (name,), False) for name in creators]
        for entry in entries:
            entry.closure = self._closure(entry)
        reached = set().union(*(entry.closure.modules for entry in entries)) if entries else set()
        importers = self.importers()
        for info in sorted(self.index.modules(), key=lambda m: m.name):
            if info.name in reached or info.is_test or importers.get(info.name):
                continue
            if self.imported_modules(info, None) & set(creators):
                entries.append(WorkerEntry(info.name, "fallback", (info.name,), False))
        return entries

    def importers(self) -> Dict[str, Set[str]]:
        """Module -> the other project modules that import it (any scope)."""
        if self._importers is None:
            result: Dict[str, Set[str]] = {}
            for info in self.index.modules():
                for target in self.imported_modules(info, None):
                    if target != info.name:
                        result.setdefault(target, set()).add(info.name)
            self._importers = result
        return self._importers

    def imported_modules(self, info: ModuleInfo, scope: Optional[str]) -> Set[str]:
        """Project modules an import statement in ``scope`` (None: any scope) brings in."""
        key = (info.name, scope)
        cached = self._imported.get(key)
        if cached is None:
            cached = self._imported[key] = self._compute_imported(info, scope)
        return cached

    def _compute_imported(self, info: ModuleInfo, scope: Optional[str]) -> Set[str]:
        result: Set[str] = set()
        for fact in info.facts.imports:
            if scope is not None and fact.scope != scope:
                continue
            base = self.index.absolute(info, fact.module)
            for name in self._with_parents(base, info):
                result.add(name)
            if fact.is_from:
                for name in fact.names:
                    sub = self.index.get(f"{base}.{name}" if base else name, info)
                    if sub is not None:
                        result.add(sub.name)
        return result

    def _with_parents(self, dotted: str, near: ModuleInfo) -> List[str]:
        parts = dotted.split(".")
        found = []
        for cut in range(1, len(parts) + 1):
            target = self.index.get(".".join(parts[:cut]), near)
            if target is not None:
                found.append(target.name)
        return found

    def _closure(self, entry: WorkerEntry) -> Closure:
        from celerylint.model.closure import ClosureBuilder

        return ClosureBuilder(self, entry).build()

    def apps_in(self, closure: Closure) -> List[AppObj]:
        return [app for app, d in self.apps.items() if closure.runs(d.module.name, d.scope)]

    def registrations(self, app: AppObj, worker: WorkerEntry) -> List[Tuple[Origin, str]]:
        """Where the worker's view of the app lists the modules it imports: include, imports
        and the autodiscover_tasks() calls it runs."""
        found: List[Tuple[Origin, str]] = []
        config = self.config(app, worker.closure.places())
        for name in ("include", "imports"):
            state, setting = config.lookup(name)
            if state == "set" and setting is not None:
                found.append((setting.origin, f"the {name} setting the worker reads"))
        for other, call, info in self.autodiscover:
            if other == app and worker.closure.runs(info.name, call.scope):
                found.append((self.origin(info, call.loc), "the autodiscover_tasks() call the worker runs"))
        return found

    def workers_for(self, app: Optional[AppObj]) -> List[WorkerEntry]:
        if app is None:
            return [w for w in self.workers if w.resolved]
        return [w for w in self.workers if w.resolved and app in self.apps_in(w.closure)]
