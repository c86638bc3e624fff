"""The project model, built once in explicit phases and not changed after; rules ask it questions.

    build_project(index, deploy, worker_apps) -> Project
      1. graph    (graph.py)    calls by name, parameter flow, imports and importers
      2. apps     (apps.py)     apps and their configuration sources, with provenance
      3. tasks    (tasks.py)    tasks found by their decorators
      4. workers  (workers.py)  worker entries and what each imports and runs at start
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar, cast

from celerylint.facts.types import RESULT_ATTRS, Attr, BinOp, Call, CallFact, Const, DictVal, Loc, Ref, Seq, UseFact, Value, last_name
from celerylint.model.app_config import Origin, Place, ResolvedConfig, SettingValue, Source
from celerylint.model.apps import AppDef, AppModel, Autodiscovery, TaskClassSetting, build_apps
from celerylint.model.closure import Closure, apps_in, loaded_apps
from celerylint.model.config_objects import ConfigObjects
from celerylint.model.deploy import DeployFacts, WorkerCommand
from celerylint.model.env_config import EnvironmentReader, Seen
from celerylint.model.flask import (
    EXTERNAL_CONTEXT_BASES, EXTERNAL_REQUEST_BASES, in_request_context, is_context_push, pushes_context,
    pushes_request_context, sqlalchemy_bound_to_app,
)
from celerylint.model.graph import ProgramGraph, origin
from celerylint.model.modules import ModuleIndex, ModuleInfo
from celerylint.model.process_env import ProcessEnv, WebCommand
from celerylint.model.resolve import AppObj, AttrOf, ClassObj, ExtObj, FuncObj, Obj, Resolver, ValObj
from celerylint.model.serializers import SerializerChanges, find_serializer_changes
from celerylint.model.tasks import TaskDef, TaskNames, find_tasks, unread_task_modules
from celerylint.model.workers import WorkerEntry, app_reference_problem, find_workers

T = TypeVar("T")

ASYNC_RESULT = frozenset({"celery.result.AsyncResult", "celery.AsyncResult"})
RESULT_PRODUCERS = frozenset({"delay", "apply_async", "AsyncResult"})
CANVAS = frozenset(
    {
        f"celery.{module}{name}"
        for module in ("", "canvas.")
        for name in ("group", "chord", "chain", "signature", "Signature", "chunks", "xmap", "xstarmap")
    }
)
SIGNATURE_METHODS = frozenset({"s", "si", "signature", "map", "starmap", "chunks"})
CHORDS = frozenset({"celery.chord", "celery.canvas.chord", "celery.canvas._chord"})
GROUPS = frozenset({"celery.group", "celery.canvas.group"})
CHORD_READ = "a chord started"
MAX_BINDING_HOPS = 3

__all__ = ["Project", "build_project", "TaskDef", "WorkerEntry", "Closure", "AppDef", "ResultRead", "Seen", "WebCommand"]


@dataclass(frozen=True)
class Route:
    """Where a task is sent to a queue: its `queue=` option, a `task_routes` entry, a call."""

    queue: str
    task: TaskDef
    origin: Origin
    how: str


@dataclass(frozen=True)
class ResultRead:
    """A place that reads a task's state or result."""

    module: ModuleInfo
    loc: Loc
    what: str
    scope: str = ""
    producer: Optional[Call] = None  # the `.delay(...)`/`.apply_async(...)` whose result is read


def build_project(index: ModuleIndex, deploy: DeployFacts, worker_apps: Sequence[str] = ()) -> Project:
    resolver = Resolver(index)
    resolver.find_app_classes()
    graph = ProgramGraph(index, resolver)
    objects = ConfigObjects(graph)
    apps = build_apps(graph, objects)
    tasks, names = find_tasks(graph, apps)
    workers = find_workers(graph, apps, objects, deploy, worker_apps)
    return Project(index, graph, deploy, objects, apps, tuple(tasks), tuple(workers), names)


@dataclass(frozen=True)
class Project:
    index: ModuleIndex
    graph: ProgramGraph
    deploy: DeployFacts
    objects: ConfigObjects
    app_model: AppModel
    tasks: Tuple[TaskDef, ...]
    workers: Tuple[WorkerEntry, ...]
    found_names: TaskNames = field(default_factory=lambda: TaskNames({}, frozenset(), True))
    # Views derived from the finished model that several rules share (see ``shared``).
    _shared: Dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, once per model: for a view several rules ask for (the settings rules'
        keys, the signature rules' calls). The model never changes, so neither does the view."""
        if key not in self._shared:
            self._shared[key] = compute()
        return cast(T, self._shared[key])

    # --- the program ---------------------------------------------------------------------

    @property
    def resolver(self) -> Resolver:
        return self.graph.resolver

    def resolve(self, info: ModuleInfo, scope: str, value: Value) -> Obj:
        return self.graph.resolve(info, scope, value)

    def calls_named(self, *names: str) -> Iterable[Tuple[ModuleInfo, CallFact]]:
        return self.graph.calls_named(*names)

    def origin(self, info: ModuleInfo, loc: Loc) -> Origin:
        return origin(info, loc)

    # --- apps and their configuration ----------------------------------------------------

    @property
    def apps(self) -> Dict[AppObj, AppDef]:
        return self.app_model.definitions

    @property
    def autodiscoveries(self) -> List[Autodiscovery]:
        return self.app_model.autodiscoveries

    def task_classes(self, app: AppObj) -> List[TaskClassSetting]:
        """Where the app's Task class is set (`task_cls=`, `app.Task = ...`)."""
        return self.app_model.task_classes.get(app, [])

    def config(self, app: AppObj, executed: Optional[FrozenSet[Place]] = None) -> ResolvedConfig:
        """The app's settings as a process that runs only ``executed`` sees them (None: all)."""
        return self.app_model.config(app, executed)

    def apps_of(self, obj: Obj) -> List[AppObj]:
        return self.app_model.apps_of(obj)

    def config_sources(self, app: AppObj) -> Tuple[Source, ...]:
        """The app's configuration sources as written: each key with its container and where it runs."""
        return self.app_model.sources(app)

    def app_label(self, app: AppObj) -> str:
        return self.apps[app].label

    # --- workers -------------------------------------------------------------------------

    def apps_in(self, closure: Closure) -> List[AppObj]:
        return apps_in(self.app_model, closure)

    def workers_for(self, app: Optional[AppObj]) -> List[WorkerEntry]:
        """The resolved workers that load the app (None: every resolved worker)."""
        if app is None:
            return [w for w in self.workers if w.resolved]
        return [w for w in self.workers if w.resolved and app in self.apps_in(w.closure)]

    def worker_commands(self) -> List[Tuple[WorkerCommand, ProcessEnv, WorkerEntry]]:
        """Each deployed worker command whose environment the deployment file gives, with the
        worker entry that runs it (one command per process: compose services sharing one
        command through an anchor are each there)."""
        found = []
        for command in self.deploy.workers:
            if command.env is None:
                continue
            for worker in self.workers:
                if worker.command is not None and worker.spec == command.app and worker.values == command.values:
                    found.append((command, command.env, worker))
                    break
        return found

    @cached_property
    def web_commands(self) -> Tuple[WebCommand, ...]:
        """Web processes (gunicorn, uwsgi, `flask run`, ...) found in deployment files that serve
        this project: their command names one of its modules, or names no module at all."""
        def ours(web: WebCommand) -> bool:
            return not web.targets or any(self.index.longest_module_prefix(target)[0] is not None for target in web.targets)

        return tuple(web for web in self.deploy.webs if ours(web))

    @cached_property
    def environment(self) -> EnvironmentReader:
        return EnvironmentReader(self.graph, self.deploy)

    def setting_in_process(self, app: AppObj, name: str, env: ProcessEnv, worker: Optional[WorkerEntry] = None) -> Optional[Seen]:
        """A setting as the process with this environment sees it: a worker through what its
        entry runs, a web process through the whole configuration; None when not known."""
        return self.environment.setting_in(self.config(app, worker.closure.places() if worker is not None else None), name, env)

    def worker_apps(self, worker: WorkerEntry) -> List[AppObj]:
        """The app `celery -A spec` loads (closure.loaded_apps: celery.app.utils.find_app), or
        every app the worker creates when that cannot be told."""
        return loaded_apps(self.graph, self.app_model, worker.spec, self.apps_in(worker.closure))

    def worker_queues(self, worker: WorkerEntry, app: AppObj) -> Optional[FrozenSet[str]]:
        """The queues the worker consumes for the app (celery/bin/worker.py, app/amqp.py):
        its -Q list minus -X, else every queue of task_queues, else task_default_queue.
        None when that is not known."""
        if not worker.options_known:
            return None  # `-Q` may come with the arguments given at run time
        excluded = set(worker.listed("exclude_queues") or ())
        listed = worker.listed("queues")
        if listed is not None:
            return frozenset(listed) - excluded
        config = self.config(app, worker.closure.places())
        state, setting = config.lookup("task_queues")
        if state == "unknown":
            return None
        if state == "set":
            names = self._queue_names(setting)
            return None if names is None else frozenset(names) - excluded
        default = self._setting_text(config, "task_default_queue", "celery")
        return None if default is None else frozenset({default}) - excluded

    def _queue_names(self, setting: Optional[SettingValue]) -> Optional[List[str]]:
        """The names of a literal task_queues: Queue("name", ...) items, or a dict's keys."""
        if setting is None or setting.value is None:
            return None
        value = setting.value
        if isinstance(value, DictVal) and not value.has_spread:
            keys = [key.value for key, _ in value.items if isinstance(key, Const) and isinstance(key.value, str)]
            return keys if len(keys) == len(value.items) else None
        if isinstance(value, Seq) and not value.has_star:
            names = []
            for item in value.items:
                name = item.args[0] if isinstance(item, Call) and item.args else item.kwarg("name") if isinstance(item, Call) else None
                if not (isinstance(name, Const) and isinstance(name.value, str)):
                    return None
                names.append(name.value)
            return names
        return None

    @staticmethod
    def _setting_text(config: ResolvedConfig, name: str, default: str) -> Optional[str]:
        state, setting = config.lookup(name)
        if state == "not set":
            return default
        if setting is not None and isinstance(setting.value, Const) and isinstance(setting.value.value, str):
            return setting.value.value
        return None

    def routes(self) -> List[Route]:
        """Every literal route of a project task to a queue."""
        found: List[Route] = []
        for task in self.tasks:
            queue = task.option("queue")
            if isinstance(queue, Const) and isinstance(queue.value, str):
                found.append(Route(queue.value, task, origin(task.module, task.decorator_loc), "its queue= option"))
        for app in self.apps:
            state, setting = self.config(app).lookup("task_routes")
            if state == "set" and setting is not None:
                found.extend(self._config_routes(app, setting))
        for info, call in self.calls_named("apply_async"):
            queue = call.value.kwarg("queue")
            func = call.value.func
            if isinstance(queue, Const) and isinstance(queue.value, str) and isinstance(func, Ref) and "." in func.path:
                sent = self.task_for(info, call.scope, Ref(func.scope, func.path.rpartition(".")[0]))
                if sent is not None:
                    found.append(Route(queue.value, sent, origin(info, call.arg_loc("queue")), "apply_async(queue=...)"))
        return found

    def _config_routes(self, app: AppObj, setting: SettingValue) -> List[Route]:
        """task_routes as a literal dict (or a list of them) of name or glob -> queue or {"queue": ...};
        router functions and patterns are not followed."""
        value = setting.value
        tables = list(value.items) if isinstance(value, Seq) else [value]
        found = []
        for table in tables:
            if not isinstance(table, DictVal):
                continue
            for key, target in table.items:
                if not (isinstance(key, Const) and isinstance(key.value, str)):
                    continue
                queue = _route_queue(target)
                if queue is None:
                    continue
                for task in self.tasks:
                    if app in self.producer_apps(task) and fnmatch.fnmatchcase(task.name, key.value):
                        found.append(Route(queue, task, setting.origin, f"task_routes[{key.value!r}]"))
        return found

    def worker_app_problem(self, worker: WorkerEntry) -> Optional[str]:
        """Why the worker's `-A` value loads no app, or None (it does, or that is not known)."""
        return app_reference_problem(self.graph, worker.spec)

    def registrations(self, app: AppObj, worker: WorkerEntry) -> List[Tuple[Origin, str]]:
        """Where the worker's view of the app lists the modules it imports: include, imports
        and the autodiscover_tasks() calls it runs (only the app the worker loads imports them)."""
        found: List[Tuple[Origin, str]] = []
        if app not in self.worker_apps(worker):
            return found
        config = self.config(app, worker.closure.places())
        for name in ("include", "imports"):
            state, setting = config.lookup(name)
            if state == "set" and setting is not None:
                found.append((setting.origin, f"the {name} setting the worker reads"))
        for item in self.autodiscoveries:
            if item.app == app and worker.closure.runs(item.module.name, item.call.scope):
                found.append((origin(item.module, item.call.loc), "the autodiscover_tasks() call the worker runs"))
        return found

    # --- tasks ---------------------------------------------------------------------------

    @cached_property
    def task_names(self) -> TaskNames:
        """Every name the project's tasks are registered under (tasks, Task classes, names given
        to `app.task(name=...)` anywhere); not `known` when some name cannot be."""
        names = self.found_names
        if names.known and unread_task_modules(self.graph, self.app_model):
            return TaskNames(names.tasks, names.derived, False)
        return names

    def task_for(self, info: ModuleInfo, scope: str, value: Value) -> Optional[TaskDef]:
        """The task a value refers to (`send_email` in `send_email.delay(...)`), if any."""
        obj = self.resolve(info, scope, value)
        if not isinstance(obj, FuncObj):
            return None
        for task in self.tasks:
            if task.module.name == obj.module and task.function.qualname == obj.qualname:
                return task
        return None

    def task_apps(self, task: TaskDef) -> List[AppObj]:
        """The apps whose copy of the task workers run, with their configuration and Task class.
        A shared task (`@shared_task`, and `@app.task` unless `shared=False`) is built again on
        every app a process finalizes: a worker runs its own app's copy. So: the app of every
        worker that imports the task's module (or may: its imports are not all known); the
        decorator's app when no worker is known to, or for `shared=False`."""
        if task.app is not None and task.shared is False:
            return [task.app]
        if task.app is None and len(self.apps) == 1:
            return list(self.apps)
        apps: List[AppObj] = []
        for worker in self.workers_for(None):
            if task.module.name in worker.closure.modules or worker.closure.uncertain:
                apps.extend(app for app in self.worker_apps(worker) if app not in apps)
        if task.app is not None and task.app not in apps and (task.shared is None or not apps):
            apps.insert(0, task.app)
        return apps

    def producer_apps(self, task: TaskDef) -> List[AppObj]:
        """The apps whose copy of the task a caller sends: `@app.task` gives callers the
        decorator's app's copy wherever they run; `@shared_task` the copy of the caller's current
        app, which may be any app of the project (the last one created, or set_default())."""
        return [task.app] if task.app is not None else list(self.apps)

    def task_base_values(self, task: TaskDef, apps: Optional[List[AppObj]] = None) -> Optional[List[Obj]]:
        """What the task's base is: its `base=`, else the Task classes of ``apps`` (default: the
        copies workers run; none written: Celery's Task). None for a shared task of an app the
        project does not create."""
        base = task.option("base")
        values: List[Tuple[Value, ModuleInfo, str]] = []
        if base is not None:
            values.append((base, task.module, task.function.scope))
        else:
            apps = self.task_apps(task) if apps is None else apps
            if not apps:
                return None
            for app in apps:
                values.extend((item.value, item.module, item.scope) for item in self.task_classes(app))
        found: List[Obj] = []
        for value, info, scope in values:
            obj = self.resolve(info, scope, value)
            if isinstance(value, Const) and isinstance(value.value, str):
                obj = self.resolver.resolve_dotted(value.value.replace(":", "."), info)
            found.append(obj)
        return found

    def task_base_classes(self, task: TaskDef, apps: Optional[List[AppObj]] = None) -> Tuple[List[ClassObj], bool]:
        """The classes a task's base may be, and whether all of them are known; ``apps``: the
        copies asked about (default: the ones workers run)."""
        values = self.task_base_values(task, apps)
        if values is None:
            return [], False  # a shared task of an app the project does not create: its Task class is not known
        classes: List[ClassObj] = []
        known = True
        for obj in values:
            if isinstance(obj, ClassObj):
                classes.append(obj)
            elif not (isinstance(obj, (ExtObj, AttrOf)) and str(getattr(obj, "path", "")).endswith("Task")):
                known = False
        return classes, known

    def app_base_classes(self, app: AppObj) -> List[ClassObj]:
        bases = []
        for item in self.task_classes(app):
            obj = self.resolve(item.module, item.scope, item.value)
            if isinstance(obj, ClassObj):
                bases.append(obj)
        return bases

    def task_scopes(self, task: TaskDef) -> List[str]:
        """The task's body and the same module's functions it calls directly."""
        info = task.module
        scopes = [task.function.qualname]
        for call in self.graph.calls_in(info, task.function.qualname):
            target = self.resolve(info, call.scope, call.value.func)
            if isinstance(target, FuncObj) and target.module == info.name and "." not in target.qualname:
                if target.qualname not in scopes:
                    scopes.append(target.qualname)
        return scopes

    def task_uses(self, task: TaskDef) -> List[UseFact]:
        """Names the task reads, its own body first, then the functions it calls."""
        scopes = set(self.task_scopes(task))
        uses = [use for use in task.module.facts.uses if use.scope in scopes]
        return sorted(uses, key=lambda use: (use.scope != task.function.qualname, use.loc.line, use.loc.col))

    def task_request_uses(self, task: TaskDef) -> List[UseFact]:
        """The task's name uses that run without a request context: not inside `with
        X.test_request_context():`, nor in a helper the task calls only inside one."""
        if self._extension_context_base(task, EXTERNAL_REQUEST_BASES):
            return []
        classes, _ = self.task_base_classes(task)
        if any(pushes_request_context(self.graph, cls) for cls in classes):
            return []
        info = task.module
        outside: Dict[str, bool] = {}  # helper -> called at least once outside a request context
        for call in self.graph.calls_in(info, task.function.qualname):
            target = self.resolve(info, call.scope, call.value.func)
            if isinstance(target, FuncObj) and target.module == info.name:
                outside[target.qualname] = outside.get(target.qualname, False) or not in_request_context(call)
        return [
            use for use in self.task_uses(task)
            if not use.in_request_context and outside.get(use.scope, True)
        ]

    def has_app_context(self, task: TaskDef) -> bool:
        """Whether the task runs inside a Flask app context (or that cannot be ruled out)."""
        if self._extension_context_base(task):
            return True
        classes, known = self.task_base_classes(task)
        if not known or any(pushes_context(self.graph, cls) for cls in classes):
            return True
        shared = task.option("shared")
        if task.option("base") is None and not (isinstance(shared, Const) and shared.value is False):
            # @app.task(shared=True), the default, builds the task again on every app a worker
            # finalizes, with that app's Task class: another app's context-pushing base counts.
            for other in self.apps:
                if other != task.app and any(pushes_context(self.graph, cls) for cls in self.app_base_classes(other)):
                    return True
        for app in self.task_apps(task):
            for worker in self.workers_for(app):
                if self._worker_pushes_context(worker.closure):
                    return True
        return False

    @cached_property
    def sqlalchemy_needs_context(self) -> bool:
        """Flask-SQLAlchemy 3 always needs an app context; 2.x bound to its app (`db.app = app`,
        `SQLAlchemy(app)`) does not. An undeclared version is taken as the latest release."""
        version = self.deploy.version("flask-sqlalchemy")
        return not (version is not None and version[:1] < (3,) and sqlalchemy_bound_to_app(self.graph))

    def _extension_context_base(self, task: TaskDef, names: FrozenSet[str] = EXTERNAL_CONTEXT_BASES) -> bool:
        """The task's base (or its app's Task class) is an extension's context-pushing Task."""
        base = task.option("base")
        if base is not None:
            candidates = [(base, task.module, task.function.scope)]
        else:
            candidates = [(item.value, item.module, item.scope) for app in self.task_apps(task) for item in self.task_classes(app)]
        for value, info, scope in candidates:
            obj = self.resolve(info, scope, value)
            if isinstance(obj, ExtObj) and obj.path in names:
                return True
        return False

    def _worker_pushes_context(self, closure: Closure) -> bool:
        for module, scope in closure.places():
            info = self.index.by_name.get(module)
            if info is not None and any(is_context_push(self.graph, info, call) for call in self.graph.calls_in(info, scope)):
                return True
        return False

    def task_serializer(self, task: TaskDef, call: Optional[CallFact] = None) -> Tuple[str, Optional[str]]:
        """("set", name) | ("unknown", None): the serializer that encodes the task's arguments,
        from the call's `serializer=`, the task's option, else the Task class and task_serializer
        of the copy the caller holds (producer_apps)."""
        for value in ((call.value.kwarg("serializer") if call is not None else None), task.option("serializer")):
            if value is not None:
                return ("set", value.value) if isinstance(value, Const) and isinstance(value.value, str) else ("unknown", None)
        apps = self.producer_apps(task)
        classes, known = self.task_base_classes(task, apps)
        if not known:
            return "unknown", None
        for cls in classes:
            chosen_by_base = self.resolver.class_attr(cls, "serializer")
            if chosen_by_base is not None:
                if isinstance(chosen_by_base, ValObj) and isinstance(chosen_by_base.value, Const) and isinstance(chosen_by_base.value.value, str):
                    return "set", chosen_by_base.value.value
                return "unknown", None
        if not apps:
            return "unknown", None
        chosen = set()
        for app in apps:
            state, setting = self.config(app).lookup("task_serializer")
            if state == "unknown":
                return "unknown", None
            if state == "not set" or setting is None:
                chosen.add("json")  # Celery's default
            elif isinstance(setting.value, Const) and isinstance(setting.value.value, str):
                chosen.add(setting.value.value)
            else:
                return "unknown", None
        return ("set", chosen.pop()) if len(chosen) == 1 else ("unknown", None)

    @cached_property
    def serializer_changes(self) -> SerializerChanges:
        """Serializers the project registers with kombu, and types it teaches kombu's JSON."""
        return find_serializer_changes(self.graph)

    # --- results -------------------------------------------------------------------------

    def sent_task(self, info: ModuleInfo, scope: str, call: Call) -> Optional[TaskDef]:
        """The task `t.delay(...)` or `t.apply_async(...)` sends, when it is known."""
        func = call.func
        if isinstance(func, Ref) and func.last in ("delay", "apply_async") and "." in func.path:
            return self.task_for(info, scope, Ref(func.scope, func.path.rpartition(".")[0]))
        return None

    def ignores_result(self, task: TaskDef) -> Tuple[str, Optional[Origin]]:
        """("yes", where) when the task's results are not stored, ("no", None), or ("unknown", None):
        `ignore_result=True` on the task, else `task_ignore_result=True` in its app's configuration."""
        option = task.option("ignore_result")
        decorator = origin(task.module, task.decorator_loc)
        if option is not None:
            if isinstance(option, Const):
                return ("yes", decorator) if option.value is True else ("no", None)
            return "unknown", None
        apps = self.task_apps(task)
        if not apps:
            return "unknown", None
        answers = set()
        where: Optional[Origin] = None
        for app in apps:
            state, setting = self.config(app).lookup("task_ignore_result")
            if state == "unknown" or (setting is not None and not isinstance(setting.value, Const)):
                return "unknown", None
            ignored = setting is not None and isinstance(setting.value, Const) and setting.value.value is True
            answers.add(ignored)
            if ignored and setting is not None:
                where = setting.origin
        if answers == {True}:
            return "yes", where
        return ("no", None) if answers == {False} else ("unknown", None)

    def is_task_result(self, info: ModuleInfo, scope: str, value: Value, hops: int = 0) -> bool:
        """Provably a task's result: `.delay()`/`.apply_async()` of a task or a signature,
        `AsyncResult(...)`, a called group/chord/chain, or a local name bound to one of them."""
        if isinstance(value, Ref) and value.scope == "local" and "." not in value.path:
            bound = self.graph.local_value(info, scope, value.path)
            return bound is not None and hops < MAX_BINDING_HOPS and self.is_task_result(info, scope, bound, hops + 1)
        if not isinstance(value, Call):
            return False
        func = value.func
        if isinstance(func, Ref) and func.last in ("delay", "apply_async") and "." in func.path:
            return self.is_canvas(info, scope, Ref(func.scope, func.path.rpartition(".")[0]))
        if isinstance(func, Attr) and func.attr in ("delay", "apply_async"):
            return self.is_canvas(info, scope, func.base)
        if isinstance(func, Ref) and func.last == "AsyncResult":
            obj = self.resolve(info, scope, func)
            return (isinstance(obj, ExtObj) and obj.path in ASYNC_RESULT) or (
                isinstance(obj, AttrOf) and obj.path == "AsyncResult" and bool(self.apps_of(obj.base))
            )
        return self.is_canvas(info, scope, func)  # group(...)(), (a.s() | b.s())()

    def _starts_chord(self, info: ModuleInfo, scope: str, call: Call) -> bool:
        """`chord(header)(body)`, `chord(...).apply_async()`/`.delay()`, and a group piped into a
        task (`(group(...) | t.s())()`), which Celery turns into a chord."""
        func = call.func
        started = func.base if isinstance(func, Attr) and func.attr in ("apply_async", "delay") else func
        if isinstance(started, BinOp) and started.op == "BitOr":
            return self._is_canvas_call(info, scope, started.left, GROUPS) and self.is_canvas(info, scope, started.right)
        return self._is_canvas_call(info, scope, started, CHORDS) or (
            isinstance(started, Call) and self._is_canvas_call(info, scope, started.func, CHORDS)
        )

    def _is_canvas_call(self, info: ModuleInfo, scope: str, value: Value, paths: FrozenSet[str]) -> bool:
        if not isinstance(value, Call):
            return False
        obj = self.resolve(info, scope, value.func)
        return isinstance(obj, ExtObj) and obj.path in paths

    def is_canvas(self, info: ModuleInfo, scope: str, value: Value) -> bool:
        """A task, a signature of one, or a group/chord/chain: calling or applying it sends tasks."""
        if self.task_for(info, scope, value) is not None:
            return True
        if isinstance(value, BinOp) and value.op == "BitOr":
            return self.is_canvas(info, scope, value.left) or self.is_canvas(info, scope, value.right)
        if not isinstance(value, Call):
            return False
        func = value.func
        if isinstance(func, Ref) and func.last in SIGNATURE_METHODS and "." in func.path:
            if self.task_for(info, scope, Ref(func.scope, func.path.rpartition(".")[0])) is not None:
                return True
        obj = self.resolve(info, scope, func)
        return isinstance(obj, ExtObj) and obj.path in CANVAS

    def result_reads(self) -> Iterator[ResultRead]:
        """Every place that reads a task's state or result, in source order per file. Tests run
        tasks eagerly, so their reads need no backend and are not counted."""
        return iter(self._result_reads)

    @cached_property
    def _result_reads(self) -> Tuple[ResultRead, ...]:
        return tuple(self._find_result_reads())

    def _find_result_reads(self) -> Iterator[ResultRead]:
        for info in sorted(self.index.modules(), key=lambda m: m.rel):
            if info.is_test:
                continue
            facts = info.facts
            for call in facts.calls:
                func = call.value.func
                if type(func) is Ref and not func.path.endswith("AsyncResult"):
                    continue  # most calls: no result read, and a name called starts no chord
                if isinstance(func, Ref) and func.last == "AsyncResult":
                    obj = self.resolve(info, call.scope, func)
                    if (isinstance(obj, ExtObj) and obj.path in ASYNC_RESULT) or (
                        isinstance(obj, AttrOf) and obj.path == "AsyncResult" and self.apps_of(obj.base)
                    ):
                        yield ResultRead(info, call.loc, "AsyncResult(...)", call.scope)
                elif isinstance(func, Attr) and func.attr in RESULT_ATTRS and _produces_result(func.base):
                    assert isinstance(func.base, Call)
                    yield ResultRead(info, call.loc, f".{func.attr}() on a task result", call.scope, func.base)
                elif self._starts_chord(info, call.scope, call.value):
                    # A chord joins its header's results in the backend: without one, starting it
                    # raises NotImplementedError in the caller.
                    yield ResultRead(info, call.loc, CHORD_READ, call.scope)
            for use in facts.uses:
                ref = use.ref
                if ref.scope == "local" and ref.path.count(".") == 1 and ref.last in RESULT_ATTRS:
                    holder = ref.path.split(".", 1)[0]
                    bound = self.graph.local_value(info, use.scope, holder)
                    if isinstance(bound, Call) and _produces_result(bound):
                        yield ResultRead(info, use.loc, ref.path, use.scope, bound)


def _route_queue(target: Value) -> Optional[str]:
    """The queue of a task_routes value: "queue" or {"queue": "queue", ...} (Celery's MapRoute)."""
    if isinstance(target, DictVal):
        target = next((item for key, item in target.items if isinstance(key, Const) and key.value == "queue"), Const(None))
    return target.value if isinstance(target, Const) and isinstance(target.value, str) else None


def _produces_result(value: Optional[Value]) -> bool:
    if not isinstance(value, Call):
        return False
    func = value.func
    name = last_name(func)
    return name in RESULT_PRODUCERS
