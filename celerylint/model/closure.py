"""What a worker imports and runs at start: the entry's import closure.

Top-level statements of every module imported, the bodies of functions that
run at import time (``app = create_app()``), then what Celery imports itself:
``include``/``imports``, ``autodiscover_tasks`` packages and receivers of the
``import_modules`` signal (and of signals those receivers send).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

from celerylint.facts.types import MODULE_SCOPE, Attr, BinOp, Call, Const, IterItem, LambdaVal, Ref, Seq, Value, last_name
from celerylint.model.app_config import Place
from celerylint.model.apps import AppModel, Autodiscovery
from celerylint.model.config_objects import ConfigObjects
from celerylint.model.graph import ProgramGraph
from celerylint.model.modules import ModuleInfo
from celerylint.model.resolve import LAZY_PROXIES, AppObj, ClassObj, Ctx, ExtObj, FuncObj, ValObj

MAX_ROUNDS = 10


@dataclass
class Closure:
    """What a worker process imports and runs at start (filled while it is built, then read only)."""

    modules: Set[str] = field(default_factory=set)
    functions: Set[Tuple[str, str]] = field(default_factory=set)
    uncertain: List[str] = field(default_factory=list)
    via: Dict[str, str] = field(default_factory=dict)  # module -> how it was reached
    # places(), by the sizes it was made at (the sets only grow): rules ask for each task, and
    # the set, a key of the app's resolved configuration, is hashed and compared whole.
    _places: Tuple[int, int, FrozenSet[Place]] = field(default=(-1, -1, frozenset()), compare=False, repr=False)

    def places(self) -> FrozenSet[Place]:
        modules, functions, made = self._places
        if (modules, functions) != (len(self.modules), len(self.functions)):
            made = frozenset({(m, MODULE_SCOPE) for m in self.modules} | set(self.functions))
            self._places = (len(self.modules), len(self.functions), made)
        return made

    def runs(self, module: str, scope: str) -> bool:
        return (module, scope) in self.functions or (scope == MODULE_SCOPE and module in self.modules)


def _empty(packages: Optional[Value]) -> bool:
    """A falsy literal `packages` (none given, None, [], ()): Celery then asks its fixups."""
    if packages is None or (isinstance(packages, Const) and not packages.value):
        return True
    return isinstance(packages, Seq) and not packages.items and not packages.has_star


def _may_force(found: Autodiscovery) -> bool:
    """`autodiscover_tasks(..., force=True)` (or a force= that is not a literal False): it
    imports at once, in whatever process runs the call, for whichever app."""
    call = found.call.value
    force = call.kwarg("force") or (call.args[2] if len(call.args) > 2 else None)
    return force is not None and not (isinstance(force, Const) and not force.value)


def apps_in(apps: AppModel, closure: Closure) -> List[AppObj]:
    """The apps whose creating statement the worker runs."""
    return [app for app, d in apps.definitions.items() if closure.runs(d.module.name, d.scope)]


def loaded_apps(graph: ProgramGraph, apps: AppModel, spec: str, created: List[AppObj]) -> List[AppObj]:
    """The app `celery -A spec` loads, as celery.app.utils.find_app looks it up: `module:attr`
    or `module.attr`, else the module's `app`, else its `celery`, else a package's `.celery`
    submodule, else the one app the module holds; every app the worker creates (``created``)
    when that cannot be told (an attribute that is not an app of the project, several apps)."""
    found = [app for app in _find_app(graph, apps, spec, 0) if app in created]
    return found or created


def _find_app(graph: ProgramGraph, apps: AppModel, spec: str, depth: int) -> List[AppObj]:
    index, resolver = graph.index, graph.resolver
    module, colon, attr = spec.partition(":")
    info = index.get(module)
    if colon or info is None:
        if info is None and "." not in module:
            return []
        owner, rest = (info, attr.split(".")) if info is not None else index.longest_module_prefix(module)
        if owner is None or len(rest) != 1:
            return []
        return apps.apps_of(resolver.resolve_dotted(f"{owner.name}.{rest[0]}", owner))
    names = resolver.globals.get(info.name, {})
    imported = resolver.module_imports.get(info.name, {})
    for attribute in ("app", "celery"):
        if attribute in names or attribute in imported:
            return apps.apps_of(resolver.resolve_dotted(f"{info.name}.{attribute}", info))
    if info.is_package and depth == 0 and index.get(f"{info.name}.celery", info) is not None:
        return _find_app(graph, apps, f"{info.name}.celery", depth + 1)
    held = {app for name in (*names, *imported) for app in apps.apps_of(resolver.resolve_dotted(f"{info.name}.{name}", info))}
    return list(held) if len(held) == 1 else []


def build_closure(graph: ProgramGraph, apps: AppModel, objects: ConfigObjects, spec: str, modules: Sequence[str]) -> Closure:
    return ClosureBuilder(graph, apps, objects, spec, modules).build()


class ClosureBuilder:
    def __init__(self, graph: ProgramGraph, apps: AppModel, objects: ConfigObjects, spec: str, modules: Sequence[str]) -> None:
        self.graph = graph
        self.apps = apps
        self.objects = objects
        self.spec = spec
        self.entry_modules = tuple(modules)
        self.closure = Closure()
        self.module_queue: List[Tuple[str, str]] = []
        self.function_queue: List[Tuple[str, str]] = []

    def build(self) -> Closure:
        if not self.entry_modules:
            self.uncertain(f"worker app {self.spec!r} is not a project module")
            return self.closure
        for name in self.entry_modules:
            self.add_module(name, f"the worker entry {self.spec}")
        for _ in range(MAX_ROUNDS):
            before = (len(self.closure.modules), len(self.closure.functions))
            self._drain()
            self._worker_start_imports()
            self._drain()
            if (len(self.closure.modules), len(self.closure.functions)) == before:
                break
        if not apps_in(self.apps, self.closure):
            # The app comes from an installed package (`from invenio_app.celery import celery`):
            # what it imports at start (its include, entry points) is not in the project.
            self.uncertain(f"the app of `-A {self.spec}` is not created in the project: what it imports is not known")
        return self.closure

    # --- queueing -----------------------------------------------------------------

    def uncertain(self, reason: str) -> None:
        if reason not in self.closure.uncertain:
            self.closure.uncertain.append(reason)

    def add_module(self, name: str, via: str) -> None:
        info = self.graph.index.get(name)
        if info is None:
            return
        for parent in self.graph.with_parents(info.name, info):
            if parent not in self.closure.modules:
                self.closure.modules.add(parent)
                self.closure.via.setdefault(parent, via)
                self.module_queue.append((parent, via))

    def add_function(self, function: FuncObj, via: str) -> None:
        key = (function.module, function.qualname)
        if key not in self.closure.functions:
            self.closure.functions.add(key)
            self.function_queue.append(key)

    def _drain(self) -> None:
        while self.module_queue or self.function_queue:
            while self.module_queue:
                name, via = self.module_queue.pop()
                self._visit_scope(name, MODULE_SCOPE, via)
            while self.function_queue:
                module, qualname = self.function_queue.pop()
                self._visit_scope(module, qualname, f"{module}.{qualname}()")

    def _visit_scope(self, module: str, scope: str, via: str) -> None:
        info = self.graph.index.by_name.get(module)
        if info is None:
            return
        if info.broken:
            self.uncertain(f"{info.rel} does not parse")
            return
        facts = info.facts
        if scope in facts.dynamic_import_scopes:
            self.uncertain(f"{info.rel} imports modules by computed names")
        reached_via = f"imported from {info.name}" if scope == MODULE_SCOPE else f"imported by {info.name}.{scope}()"
        # Undetailed modules only know their imports: count them all (over-approximation).
        import_scope: Optional[str] = scope if facts.detailed else None
        for name in sorted(self.graph.imported_modules(info, import_scope)):  # sorted: the same path every run
            self.add_module(name, reached_via)
        if not facts.detailed:
            return
        for call in self.graph.calls_in(info, scope):
            self._follow_call(info, scope, call.value)
        self._follow_property_reads(info, scope)

    def _follow_property_reads(self, info: ModuleInfo, scope: str) -> None:
        """Reading a property runs its getter (`@ext.celery.task`, `app = ext.celery`)."""
        refs: List[Value] = [call.value.func for call in self.graph.calls_in(info, scope)]
        refs.extend(decorator for function in info.facts.functions if function.scope == scope for decorator, _ in function.decorators)
        if scope == MODULE_SCOPE:
            refs.extend(binding.value for binding in info.facts.globals if binding.scope == scope)
        for value in refs:
            if isinstance(value, Call):
                value = value.func
            for getter in self.graph.resolver.property_getters(Ctx(info, scope), value):
                self.add_function(getter, info.name)

    def _follow_call(self, info: ModuleInfo, scope: str, call: Call) -> None:
        func = self.graph.resolve(info, scope, call.func)
        if isinstance(func, ExtObj) and func.path in LAZY_PROXIES and call.args:
            # The worker builds the app behind a lazy proxy as soon as it uses it.
            target = self.graph.resolve(info, scope, call.args[0])
            if isinstance(target, FuncObj) and isinstance(self.graph.resolver.lazy_target(Ctx(info, scope), call), AppObj):
                self.add_function(target, "a lazy proxy")
        if isinstance(func, FuncObj):
            self.add_function(func, f"{info.name}")
        elif isinstance(func, ClassObj):
            init = self.graph.resolver.class_attr(func, "__init__")
            if isinstance(init, FuncObj):
                self.add_function(init, info.name)
        elif isinstance(func, ExtObj) and func.path in ("celery.signals.import_modules.connect",):
            for argument in call.args[:1]:
                target = self.graph.resolve(info, scope, argument)
                if isinstance(target, FuncObj):
                    self.add_function(target, "the import_modules signal")

    # --- what the worker imports after its entry module ---------------------------------

    def _worker_start_imports(self) -> None:
        """What the worker app's loader imports at start (import_default_modules): its include
        and imports, and the autodiscover_tasks() calls connected for it (the import_modules
        signal is sent by the worker's app only); a forced autodiscovery runs where it is called."""
        apps = apps_in(self.apps, self.closure)
        loaded = loaded_apps(self.graph, self.apps, self.spec, apps)
        places = self.closure.places()
        for app in loaded:
            config = self.apps.config(app, places)
            for setting in ("include", "imports"):
                state, value = config.lookup(setting)
                if state == "unknown":
                    self.uncertain(f"the {setting} setting is not known")
                elif value is not None:
                    self._import_listed(value.value, f"the {setting} setting ({value.origin})")
        for found in self.apps.autodiscoveries:
            if (found.app in loaded or _may_force(found)) and self.closure.runs(found.module.name, found.call.scope):
                self._autodiscover(found)
        if apps:
            self._django_setup(self.apps.definitions[apps[0]].module)
        self._config_modules()
        self._signal_receivers()

    def _config_modules(self) -> None:
        """`config_from_object("module")` imports that module when the worker reads its
        configuration at start, and with it whatever the module imports."""
        for info, call in self.graph.calls_named("config_from_object"):
            if not self.closure.runs(info.name, call.scope):
                continue
            value = call.value.args[0] if call.value.args else call.value.kwarg("obj")
            if isinstance(value, Const) and isinstance(value.value, str):
                self.add_module(value.value.partition(":")[0], f"config_from_object() at {info.rel}:{call.loc.line}")

    def _django_setup(self, near: ModuleInfo) -> None:
        """Celery's Django fixup runs django.setup() and the system checks at worker start
        (celery/fixups/django.py: validate_models): every installed app, its models and its
        AppConfig.ready(), and the ROOT_URLCONF tree, are imported."""
        settings = self.objects.django_settings_module(near)
        if settings is None:
            return
        via = "django.setup() at worker start"
        self.add_module(settings.name, via)
        apps = self._installed_apps(settings)
        if apps is None:
            self.uncertain("INSTALLED_APPS is not known")
        for name in apps or ():
            package = self._app_package(name)
            if package is None:
                continue
            self.add_module(package, via)
            self.add_module(f"{package}.models", via)
            self._app_config_ready(name)
        urlconf = self.objects.module_mapping(settings.name).get("ROOT_URLCONF")
        if urlconf is not None and isinstance(urlconf.value, Const) and isinstance(urlconf.value.value, str):
            self.add_module(urlconf.value.value, "the system checks (ROOT_URLCONF) at worker start")

    def _app_config_ready(self, name: str) -> None:
        obj = self.graph.resolver.resolve_dotted(name)
        if isinstance(obj, ClassObj):
            ready = self.graph.resolver.class_attr(obj, "ready")
            if isinstance(ready, FuncObj):
                self.add_function(ready, "AppConfig.ready()")

    def _import_listed(self, value: Optional[Value], via: str) -> None:
        names = self._string_list(value)
        if names is None:
            self.uncertain(f"{via} is not a literal list")
            return
        for name in names:
            self.add_module(name, via)

    def _string_list(self, value: Optional[Value]) -> Optional[List[str]]:
        if isinstance(value, Const) and isinstance(value.value, str):
            return [value.value]
        if isinstance(value, Seq) and not value.has_star:
            names = []
            for item in value.items:
                if not (isinstance(item, Const) and isinstance(item.value, str)):
                    return None
                names.append(item.value)
            return names
        return None

    def _autodiscover(self, found: Autodiscovery) -> None:
        """`autodiscover_tasks(packages, related_name="tasks", force=False)`, as Celery runs it
        (celery/app/base.py, celery/loaders/base.py): empty packages ask the fixups (Django's
        gives every installed app's AppConfig.name), a callable is called, and each package goes
        through find_related_module."""
        info, call = found.module, found.call
        value = call.value
        packages = value.args[0] if value.args else value.kwarg("packages")
        related: Optional[str] = "tasks"
        related_value = value.kwarg("related_name") or (value.args[1] if len(value.args) > 1 else None)
        if isinstance(related_value, Const) and (related_value.value is None or isinstance(related_value.value, str)):
            related = related_value.value or None  # None or "": only the packages themselves
        elif related_value is not None:
            self.uncertain("autodiscover_tasks(related_name=...) is not a literal")
            return
        via = f"autodiscover_tasks() at {info.rel}:{call.loc.line}"
        if _empty(packages):
            names = self._fixup_packages(info)
            if names is None:
                self.uncertain(f"the packages of autodiscover_tasks() at {info.rel}:{call.loc.line} are not known")
            for name in names or ():
                self._related_module(name, related, via)
            return
        listed = self._packages(info, call.scope, packages)
        if listed is None:
            self.uncertain(f"the packages of autodiscover_tasks() at {info.rel}:{call.loc.line} are not known")
            return
        for name in listed:
            self._related_module(name, related, via)

    def _fixup_packages(self, info: ModuleInfo) -> Optional[List[str]]:
        """What Celery's fixups give autodiscover_tasks() with no packages: in a Django project
        the name of every installed app's AppConfig (celery/fixups/django.py); elsewhere nothing."""
        settings = self.objects.django_settings_module(info)
        if settings is None:
            return []  # outside Django, autodiscover_tasks() with no packages imports nothing
        installed = self._installed_apps(settings)
        if installed is None:
            return None
        return [self._app_config_name(name) for name in installed]

    def _related_module(self, package: str, related: Optional[str], via: str) -> None:
        """celery.loaders.base.find_related_module: import the package (with its parents); when
        that import fails, walk up one level (an 'app.apps.AppConfig' entry names a class); then
        import `<package>.<related_name>` if it exists. A package the project does not hold is
        an installed one (its tasks are not the project's) or makes the worker fail at start."""
        if self.graph.index.get(package) is None:
            package = package.rpartition(".")[0]
            if not package or self.graph.index.get(package) is None:
                return
            # `import_module(f"{package}.{related_name}")` imports the parent even for None.
            self.add_module(package, via)
        else:
            self.add_module(package, via)
            if not related:
                return
        if related:
            self.add_module(f"{package}.{related}", via)

    def _app_config_name(self, name: str) -> str:
        """The name of an INSTALLED_APPS entry's AppConfig: the entry itself, or for an entry
        that names an AppConfig class ('polls.apps.PollsConfig') its `name` attribute, else the
        package holding the class."""
        if self.graph.index.get(name) is None:
            obj = self.graph.resolver.resolve_dotted(name)
            if isinstance(obj, ClassObj):
                label = self.graph.resolver.class_attr(obj, "name")
                if isinstance(label, ValObj) and isinstance(label.value, Const) and isinstance(label.value.value, str):
                    return label.value.value
                return obj.module.rpartition(".")[0] or obj.module
        return name

    def _app_package(self, name: str) -> Optional[str]:
        """The project package of an INSTALLED_APPS entry (its AppConfig's name), for
        django.setup(); None for an installed app."""
        name = self._app_config_name(name)
        while name:
            info = self.graph.index.get(name)
            if info is not None:
                return info.name
            name = name.rpartition(".")[0]
        return None

    def _packages(self, info: ModuleInfo, scope: str, packages: Optional[Value], depth: int = 0) -> Optional[List[str]]:
        """The package names of a non-empty `packages` argument: a literal list, a zero-argument
        callable (a lambda, a function returning one list), a name bound to a list, or Django's
        INSTALLED_APPS (settings.INSTALLED_APPS); None when not known."""
        if packages is None or depth > 3:
            return None
        if isinstance(packages, LambdaVal):
            return self._packages(info, scope, packages.body, depth + 1)
        names = self._string_list(packages)
        if names is not None:
            return names
        if isinstance(packages, (Ref, Attr)) and last_name(packages) == "INSTALLED_APPS":
            settings = self.objects.django_settings_module(info)
            return self._installed_apps(settings) if settings is not None else None
        obj = self.graph.resolve(info, scope, packages)
        if isinstance(obj, FuncObj):
            function = self.graph.resolver.functions.get((obj.module, obj.qualname))
            owner = self.graph.index.by_name.get(obj.module)
            if function is None or owner is None or len(function.returns) != 1 or function.params:
                return None
            return self._packages(owner, obj.qualname, function.returns[0], depth + 1)
        if isinstance(obj, ValObj) and obj.value != packages:
            owner = self.graph.index.by_name.get(obj.module)
            return self._packages(owner, obj.scope, obj.value, depth + 1) if owner is not None else None
        return None

    def _installed_apps(self, settings: ModuleInfo) -> Optional[List[str]]:
        """INSTALLED_APPS, following `INSTALLED_APPS += [...]` through its earlier bindings."""
        mapping = self.objects.module_mapping(settings.name)
        entries = [entry for entry in mapping.entries if entry.key == "INSTALLED_APPS"]
        if not entries:
            return None
        current: Optional[List[str]] = None
        for entry in entries:
            if entry.value is None:
                return None
            if entry.note is not None:  # what the repository lists; the absent module may add apps
                self.uncertain(f"INSTALLED_APPS {entry.note}")
            owner = self.graph.index.by_name.get(entry.value_ctx[0], settings)
            current = self._evaluate_list(owner, entry.value, 0, current)
            if current is None:
                return None
        return current

    def _evaluate_list(
        self, info: ModuleInfo, value: Value, depth: int, previous: Optional[List[str]] = None
    ) -> Optional[List[str]]:
        if depth > 10:
            return None
        direct = self._string_list(value)
        if direct is not None:
            return direct
        if isinstance(value, Seq) and value.has_star:
            result: List[str] = []
            for item in value.items:
                part = self._evaluate_list(info, item.base, depth + 1, previous) if isinstance(item, IterItem) else self._string_list(item)
                if part is None:
                    return None
                result.extend(part)
            return result
        if isinstance(value, BinOp) and value.op == "Add":
            left = self._evaluate_list(info, value.left, depth + 1, previous)
            right = self._evaluate_list(info, value.right, depth + 1, previous)
            return left + right if left is not None and right is not None else None
        if isinstance(value, Ref) and value.scope == "global" and "." not in value.path:
            if value.path == "INSTALLED_APPS":
                return previous
            entry = self.objects.module_mapping(info.name).get(value.path)
            if entry is not None and entry.value is not None:
                owner = self.graph.index.by_name.get(entry.value_ctx[0], info)
                return self._evaluate_list(owner, entry.value, depth + 1)
        return None

    def _signal_receivers(self) -> None:
        """import_modules receivers run at worker start; so do receivers of signals they send."""
        sent: Set[str] = {"celery.signals.import_modules"}
        for module, scope in sorted(self.closure.functions):
            info = self.graph.index.by_name.get(module)
            if info is None:
                continue
            for call in self.graph.calls_in(info, scope):
                func = call.value.func
                if isinstance(func, Ref) and func.path.endswith(".send"):
                    signal = Ref(func.scope, func.path.rpartition(".")[0])
                    sent.add(self.graph.resolver.canonical(Ctx(info, scope), signal))
        for info, function, signal in self.graph.signal_receivers():
            if self.graph.resolver.canonical(Ctx(info, function.scope), signal) in sent:
                self.add_module(info.name, "a signal receiver")
                self.add_function(FuncObj(info.name, function.qualname), "a signal receiver")
