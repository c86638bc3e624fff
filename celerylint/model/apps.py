"""Phase 2 of the model: the Celery apps and every source of their configuration, with where
each source runs and where each value is written (constructor keywords, `conf.update`,
`conf.x = ...`, `config_from_object`, the Task class an app uses, `autodiscover_tasks` calls)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Tuple

from celerylint.facts.types import MODULE_SCOPE, Attr, Call, CallFact, Const, FunctionFact, Loc, Opaque, Ref, Sub, Value
from celerylint.model.app_config import (
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
from celerylint.model.config_objects import ConfigObjects
from celerylint.model.graph import ProgramGraph, origin, transitive
from celerylint.model.modules import ModuleInfo
from celerylint.model.resolve import EXTENSION_APP_FACTORIES, EXTENSION_APP_HOLDERS, AppClassObj, AppObj, ClassObj, ExtObj, FuncObj, InstObj, Obj

# Extensions that create and configure an app themselves: their calls, and the Task class they set.
EXTENSIONS = {
    "FlaskCeleryExt": ("Flask-CeleryExt", "flask_celeryext.AppContextTask"),
    "create_celery_app": ("Flask-CeleryExt", "flask_celeryext.AppContextTask"),
}
CONFIG_METHODS = ("update", "setdefault", "config_from_object", "config_from_envvar", "add_defaults", "autodiscover_tasks")
CONSTRUCTOR_ALIASES = {"broker": "broker_url", "backend": "result_backend"}


@dataclass(frozen=True)
class AppDef:
    """Where an app is created: the `Celery(...)` call (or a subclass's)."""

    obj: AppObj
    module: ModuleInfo
    scope: str
    call: Call
    loc: Loc
    extension: Optional[str] = None  # the extension that creates it (Flask-CeleryExt), if any
    # Known only from an annotation (`app: Celery`): an app whose creation is not seen.
    annotated: bool = False

    @property
    def label(self) -> str:
        return f"{self.module.rel}:{self.loc.line}"


@dataclass(frozen=True)
class TaskClassSetting:
    """Where an app's Task class is chosen: `Celery(task_cls=...)` or `app.Task = ...`."""

    value: Value
    module: ModuleInfo
    scope: str
    loc: Loc


@dataclass(frozen=True)
class Autodiscovery:
    """An `app.autodiscover_tasks(...)` call."""

    app: AppObj
    call: CallFact
    module: ModuleInfo


class AppModel:
    """The apps and their configuration sources. Built once; ``config`` memoizes lookups."""

    def __init__(
        self,
        definitions: Dict[AppObj, AppDef],
        sources: Dict[AppObj, List[Source]],
        task_classes: Dict[AppObj, List[TaskClassSetting]],
        autodiscoveries: List[Autodiscovery],
        app_class_of: Dict[AppObj, ClassObj],
    ) -> None:
        self.definitions = definitions
        self._sources = sources
        self.task_classes = task_classes
        self.autodiscoveries = autodiscoveries
        self._app_class_of = app_class_of
        self._resolved: Dict[Tuple[AppObj, Optional[FrozenSet[Place]]], ResolvedConfig] = {}

    def config(self, app: AppObj, executed: Optional[FrozenSet[Place]] = None) -> ResolvedConfig:
        """The app's settings when only the statements at ``executed`` run (None: all of them)."""
        key = (app, executed)
        if key not in self._resolved:
            self._resolved[key] = resolve_config(self._sources.get(app, []), executed)
        return self._resolved[key]

    def sources(self, app: AppObj) -> Tuple[Source, ...]:
        """Every source of the app's configuration, as written (before any resolution)."""
        return tuple(self._sources.get(app, ()))

    def app_class(self, app: AppObj) -> Optional[ClassObj]:
        """The project's Celery subclass the app is an instance of, if any."""
        return self._app_class_of.get(app)

    def apps_of(self, obj: Obj) -> List[AppObj]:
        """The apps a resolved value is: one app, or every app of a Celery subclass (`self`)."""
        if isinstance(obj, AppObj):
            return [obj] if obj in self.definitions else []
        if isinstance(obj, AppClassObj):
            return [app for app in self.definitions if self._app_class_of.get(app) == obj.cls]
        return []


def build_apps(graph: ProgramGraph, objects: ConfigObjects) -> AppModel:
    return _AppsBuilder(graph, objects).build()


class _AppsBuilder:
    def __init__(self, graph: ProgramGraph, objects: ConfigObjects) -> None:
        self.graph = graph
        self.objects = objects
        self.definitions: Dict[AppObj, AppDef] = {}
        self.sources: Dict[AppObj, List[Source]] = {}
        self.task_classes: Dict[AppObj, List[TaskClassSetting]] = {}
        self.autodiscoveries: List[Autodiscovery] = []
        self.app_class_of: Dict[AppObj, ClassObj] = {}

    def build(self) -> AppModel:
        self._find_apps()
        model = AppModel(self.definitions, self.sources, self.task_classes, self.autodiscoveries, self.app_class_of)
        hidden = self._hidden_by_broken_modules()
        for app, definition in self.definitions.items():
            if definition.extension is not None:
                self._extension_sources(app, definition)
                continue
            if definition.annotated:
                self._annotated_sources(app, definition)
                continue
            self._init_kwargs_sources(app, definition, self.sources[app], overrides=False)
            self._constructor_sources(app, definition)
            self._init_kwargs_sources(app, definition, self.sources[app], overrides=True)
            if not self.task_classes.get(app):
                self._class_task_cls(app)
            for info in hidden.get(app, ()):
                # In force wherever the broken module runs: a worker that never imports it
                # still has a known configuration.
                place = (info.name, MODULE_SCOPE)
                opacity = Opacity(f"{info.rel} cannot be analysed", place, Origin(info.rel, 1, 1))
                self.sources[app].append(Source((), (opacity,), FROM_OBJECT, None, place))
        for info, call in self.graph.calls_named(*CONFIG_METHODS):
            self._celery_call(model, info, call)
        for info in self.graph.index.modules():
            for store in info.facts.stores:
                self._celery_store(model, info, store.target, store.value, store.scope, store.loc)
        for app, settings in self.task_classes.items():
            first = settings[0]
            self.graph.resolver.record_app_task_class(app, first.module, first.scope, first.value)
        return model

    def _find_apps(self) -> None:
        self._find_extension_apps()
        resolver = self.graph.resolver
        names = {"Celery"} | {cls.qualname.rsplit(".", 1)[-1] for cls in resolver.app_classes}
        for info, call in self.graph.calls_named(*names):
            func = self.graph.resolve(info, call.scope, call.value.func)
            if not resolver.is_celery_class(func):
                continue
            obj = self.graph.resolve(info, call.scope, call.value)
            if isinstance(obj, AppObj) and obj not in self.definitions:
                self.definitions[obj] = AppDef(obj, info, call.scope, call.value, call.loc)
                self.sources[obj] = []
                if isinstance(func, ClassObj):
                    self.app_class_of[obj] = func
                    # Attribute lookups on this app follow its class (IndicoCelery.periodic_task).
                    resolver.app_class_of[obj] = func
        self._find_annotated_apps()

    def _find_annotated_apps(self) -> None:
        """Globals annotated as Celery apps whose value does not resolve to an app the project
        creates: apps of unknown configuration, so that their tasks are seen."""
        resolver = self.graph.resolver
        for info in self.graph.index.modules():
            for annotation in info.facts.annotations:
                hinted = resolver.annotated_app(info.name, annotation.name)
                if hinted is None or hinted in self.definitions or resolver.module_attr(info.name, annotation.name) != hinted:
                    continue
                call = Call(annotation.value)
                self.definitions[hinted] = AppDef(hinted, info, annotation.scope, call, annotation.loc, annotated=True)
                self.sources[hinted] = []

    def _annotated_sources(self, app: AppObj, definition: AppDef) -> None:
        """Nothing is known of an app seen only through an annotation: its settings and Task class."""
        info = definition.module
        place = (info.name, definition.scope)
        why = "only its annotation says it is a Celery app: how it is made is not known"
        self.sources[app].append(Source((), (Opacity(why, place, origin(info, definition.loc)),), FROM_OBJECT, None, place))
        self.task_classes.setdefault(app, []).append(TaskClassSetting(Opaque("annotation"), info, definition.scope, definition.loc))

    def _init_kwargs_sources(self, app: AppObj, definition: AppDef, sources: List[Source], overrides: bool) -> None:
        """A Celery subclass whose `__init__` fills keyword arguments before passing them on
        (`kwargs["include"] = [...]`, `kwargs.setdefault("task_cls", ...)`, then
        `super().__init__(*args, **kwargs)`): defaults apply under the call's own keywords,
        assignments over them."""
        cls = self.app_class_of.get(app)
        if cls is None:
            return
        init = self.graph.resolver.class_attr(cls, "__init__")
        if not isinstance(init, FuncObj):
            return
        function = self.graph.resolver.functions.get((init.module, init.qualname))
        info = self.graph.index.by_name.get(init.module)
        varkw = next((p.name for p in function.params if p.kind == "varkw"), None) if function is not None else None
        if function is None or info is None or varkw is None or not _passes_kwargs_up(info, init.qualname):
            return
        place = (info.name, init.qualname)
        entries: List[Entry] = []
        writes, unknown = _kwargs_writes(info, function, varkw)
        opaque = tuple(Opacity(f"{varkw} filled at run time", place, origin(info, loc)) for loc in unknown) if overrides else ()
        for key, value, loc, is_default in writes:
            if is_default == overrides:
                continue
            if is_default and definition.call.kwarg(key) is not None:
                continue  # the call passes it: setdefault leaves it
            if key == "task_cls":
                setting = TaskClassSetting(value, info, init.qualname, loc)
                listed = self.task_classes.setdefault(app, [])
                if overrides:
                    listed.insert(0, setting)
                else:
                    listed.append(setting)
            else:
                entries.append(Entry(CONSTRUCTOR_ALIASES.get(key, key), value, place, origin(info, loc)))
        if entries or opaque:
            sources.append(Source(tuple(entries), opaque, PRECONF, None, place))

    def _class_task_cls(self, app: AppObj) -> None:
        """`class MyCelery(Celery): task_cls = "pkg.tasks:BaseTask"`: Celery takes the class
        attribute when the call passes no task_cls (`self.task_cls = task_cls or self.task_cls`)."""
        cls = self.app_class_of.get(app)
        if cls is None:
            return
        resolver = self.graph.resolver
        for owner in resolver.mro(cls):
            if not isinstance(owner, ClassObj):
                continue
            fact = resolver.classes.get((owner.module, owner.qualname))
            info = self.graph.index.by_name.get(owner.module)
            if fact is None or info is None:
                continue
            for binding in reversed(fact.attributes):
                if binding.name == "task_cls":
                    self.task_classes.setdefault(app, []).append(TaskClassSetting(binding.value, info, fact.scope, binding.loc))
                    return

    def _find_extension_apps(self) -> None:
        for info, call in self.graph.calls_named(*EXTENSIONS):
            func = self.graph.resolve(info, call.scope, call.value.func)
            if not (isinstance(func, ExtObj) and (func.path in EXTENSION_APP_HOLDERS or func.path in EXTENSION_APP_FACTORIES)):
                continue  # a project function of the same name (create_celery_app is a common one)
            obj = self.graph.resolve(info, call.scope, call.value)
            if isinstance(obj, InstObj):  # the holder: its attribute is the app
                obj = self.graph.resolver.getattr(obj, "celery")
            if isinstance(obj, AppObj) and obj not in self.definitions:
                name = call.value.func.last if isinstance(call.value.func, Ref) else ""
                extension = EXTENSIONS.get(name, ("an extension", ""))[0]
                self.definitions[obj] = AppDef(obj, info, call.scope, call.value, call.loc, extension)
                self.sources[obj] = []

    def _extension_sources(self, app: AppObj, definition: AppDef) -> None:
        """An extension configures its app from the web framework's config: unknown here; and
        sets its Task class (Flask-CeleryExt: AppContextTask, which pushes an app context)."""
        info = definition.module
        place = (info.name, definition.scope)
        name = definition.call.func.last if isinstance(definition.call.func, Ref) else ""
        task_class = EXTENSIONS.get(name, ("", ""))[1]
        why = f"{definition.extension} configures the app from the Flask app's config"
        self.sources[app].append(Source((), (Opacity(why, place, origin(info, definition.loc)),), FROM_OBJECT, None, place))
        if task_class:
            self.task_classes.setdefault(app, []).append(TaskClassSetting(Ref("import", task_class), info, definition.scope, definition.loc))

    def _hidden_by_broken_modules(self) -> Dict[AppObj, List[ModuleInfo]]:
        """Apps whose configuration a broken module may change: a module that does not parse
        (or could not be read) may configure an app that runs in the same process, that is an
        app whose module is imported by the broken module's importers. A broken module that
        nothing imports runs in no process and hides nothing."""
        index = self.graph.index
        hidden: Dict[AppObj, List[ModuleInfo]] = {}
        for info in sorted(index.modules(), key=lambda m: m.rel):
            if not info.may_configure or info.is_test:
                continue
            importers = self.graph.importers()  # built once, and only when a module is broken
            users = transitive({info.name}, lambda name: importers.get(name, set()))
            users.discard(info.name)
            users = {name for name in users if not index.by_name[name].is_test}
            if not users:
                continue
            reached = transitive(users, self.graph.imports_of)
            for app, definition in self.definitions.items():
                if definition.module.name in reached:
                    hidden.setdefault(app, []).append(info)
        return hidden

    def _constructor_sources(self, app: AppObj, definition: AppDef) -> None:
        info, call = definition.module, definition.call
        place = (info.name, definition.scope)
        where = origin(info, definition.loc)
        entries = []
        namespace = None
        for key, value in call.kwargs:
            if key == "namespace":
                namespace = value.value if isinstance(value, Const) and isinstance(value.value, str) else None
            elif key == "config_source":
                mapping = self.objects.mapping_for(info, definition.scope, value, place, where)
                self.sources[app].append(Source(tuple(mapping.entries), tuple(mapping.opaque), FROM_OBJECT, None, place, "object"))
            elif key == "task_cls":
                self.task_classes.setdefault(app, []).append(TaskClassSetting(value, info, definition.scope, definition.loc))
            elif isinstance(value, Const) and value.value is None:
                continue
            else:
                entries.append(Entry(CONSTRUCTOR_ALIASES.get(key, key), value, place, where, container="keyword"))
        opaque = (Opacity("**kwargs", place, where),) if call.has_star else ()
        self.sources[app].append(Source(tuple(entries), opaque, PRECONF, namespace, place, "constructor"))

    def _celery_call(self, model: AppModel, info: ModuleInfo, call: CallFact) -> None:
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
        where = origin(info, call.loc)
        for obj in self.graph.receivers(info, call.scope, Ref(func.scope, receiver_path)):
            for app in model.apps_of(obj):
                self._apply_call(app, info, call, method, place, where)

    def _apply_call(self, app: AppObj, info: ModuleInfo, call: CallFact, method: str, place: Place, where: Origin) -> None:
        value = call.value
        sources = self.sources[app]
        if method == "autodiscover_tasks":
            self.autodiscoveries.append(Autodiscovery(app, call, info))
            return
        if method in ("config_from_envvar", "add_defaults"):
            why = f"{method}() reads configuration celerylint cannot see"
            sources.append(Source((), (Opacity(why, place, where),), FROM_OBJECT, None, place))
            return
        if method == "config_from_object":
            namespace_value = value.kwarg("namespace")
            namespace = None
            if isinstance(namespace_value, Const) and isinstance(namespace_value.value, str):
                namespace = namespace_value.value
            source = value.args[0] if value.args else value.kwarg("obj")
            mapping = self.objects.mapping_for(info, call.scope, source, place, where) if source is not None else Mapping()
            sources.append(Source(tuple(mapping.entries), tuple(mapping.opaque), FROM_OBJECT, namespace, place, "object"))
            return
        mapping = Mapping([Entry(key, item, place, where, container="keyword") for key, item in value.kwargs])
        if method == "update":
            for argument in value.args[:1]:
                mapping.extend(self.objects.mapping_for(info, call.scope, argument, place, where))
        elif method == "setdefault" and len(value.args) == 2 and isinstance(value.args[0], Const):
            mapping.entries.append(Entry(str(value.args[0].value), value.args[1], place, where, container="keyword"))
        if value.has_star:
            mapping.opaque.append(Opacity("**kwargs", place, where))
        sources.append(Source(tuple(mapping.entries), tuple(mapping.opaque), PRECONF, None, place, "write"))

    def _celery_store(self, model: AppModel, info: ModuleInfo, target: Value, value: Value, scope: str, loc: Loc) -> None:
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
            for obj in self.graph.receivers(info, scope, receiver):
                for app in model.apps_of(obj):
                    self.task_classes.setdefault(app, []).append(TaskClassSetting(value, info, scope, loc))
            return
        if key is None or receiver is None or "." in key:
            return
        place = (info.name, scope)
        entry = Entry(key, value, place, origin(info, loc), container="keyword")
        for obj in self.graph.receivers(info, scope, receiver):
            for app in model.apps_of(obj):
                self.sources[app].append(Source((entry,), (), PRECONF, None, place, "write"))


def _passes_kwargs_up(info: ModuleInfo, scope: str) -> bool:
    """`super().__init__(..., **kwargs)` (or `Celery.__init__(self, ..., **kwargs)`) in ``scope``."""
    for call in info.facts.calls:
        func = call.value.func
        if call.scope != scope or not call.value.has_star:
            continue
        if (isinstance(func, Attr) and func.attr == "__init__") or (isinstance(func, Ref) and func.last == "__init__"):
            return True
    return False


def _kwargs_writes(info: ModuleInfo, function: FunctionFact, varkw: str) -> Tuple[List[Tuple[str, Value, Loc, bool]], List[Loc]]:
    """What a function writes into its ``**kwargs`` dict, in source order: (key, value, where,
    whether it is only a default): `kwargs["k"] = v`, `kwargs.setdefault("k", v)`, `kwargs.update(k=v)`;
    and where it writes what is not known (a computed key, `kwargs.update(other)`, `kwargs = ...`)."""
    scope = function.qualname
    found: List[Tuple[int, int, str, Value, Loc, bool]] = []
    unknown: List[Loc] = [binding.loc for binding in function.locals if binding.name == varkw]
    for store in info.facts.stores:
        target = store.target
        if store.scope == scope and isinstance(target, Sub) and target.base == Ref("local", varkw):
            if isinstance(target.key, Const) and isinstance(target.key.value, str):
                found.append((store.loc.line, store.loc.col, target.key.value, store.value, store.loc, False))
            else:
                unknown.append(store.loc)
    for call in info.facts.calls:
        func = call.value.func
        if call.scope != scope or not isinstance(func, Ref) or func.path not in (f"{varkw}.setdefault", f"{varkw}.update"):
            continue
        if func.last == "setdefault" and len(call.value.args) == 2 and isinstance(call.value.args[0], Const):
            key = call.value.args[0].value
            if isinstance(key, str):
                found.append((call.loc.line, call.loc.col, key, call.value.args[1], call.loc, True))
        elif func.last == "update":
            for key, value in call.value.kwargs:
                found.append((call.loc.line, call.loc.col, key, value, call.loc, False))
            if call.value.args or call.value.has_star:
                unknown.append(call.loc)
        else:
            unknown.append(call.loc)
    return [item[2:] for item in sorted(found, key=lambda item: (item[0], item[1]))], unknown
