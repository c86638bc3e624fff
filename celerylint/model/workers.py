"""Phase 4 of the model: the worker processes, each with what it imports and runs at start.

Entry points come from `[tool.celerylint] worker-apps`, else from `celery ... worker` commands
in deployment files, else (a guess, marked not explicit) from the modules that create apps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from celerylint.model.app_config import Origin
from celerylint.model.apps import AppModel
from celerylint.model.closure import Closure, build_closure
from celerylint.model.config_objects import ConfigObjects
from celerylint.facts.types import Const, Ref, Seq, Value
from celerylint.model.deploy import DeployFacts, WorkerCommand, option_items, option_value, parse_command
from celerylint.model.resolve import ExtObj
from celerylint.model.graph import ProgramGraph
from celerylint.model.modules import ModuleInfo

FALLBACK = "fallback"
# Calls that start a program from an argument list, and Celery's own in-process entry points.
EXEC_FUNCTIONS = frozenset(
    {f"os.{name}" for name in ("execv", "execvp", "execvpe", "execve", "spawnv", "spawnvp")}
    | {f"subprocess.{name}" for name in ("run", "call", "check_call", "check_output", "Popen")}
)
MORE_OPTIONS = "more_options"  # the argument list grows at run time: its options are not all known


@dataclass(frozen=True)
class WorkerEntry:
    spec: str  # "module", "module:attr", as given to `celery -A`
    origin: str  # where it was declared, or "fallback"
    modules: Tuple[str, ...]  # entry modules, empty when unresolved
    explicit: bool
    closure: Closure
    options: Tuple[str, ...] = ()
    command: Optional[Origin] = None  # the deployment-file line that starts it
    values: Tuple[Tuple[str, str], ...] = ()  # option values that matter (queues, pool, ...)

    def value(self, name: str) -> Optional[str]:
        return option_value(self.values, name)

    def listed(self, name: str) -> Optional[Tuple[str, ...]]:
        return option_items(self.values, name)

    @property
    def resolved(self) -> bool:
        return bool(self.modules)

    @property
    def options_known(self) -> bool:
        """False when the command's argument list grows at run time (`args += user_args`)."""
        return self.value(MORE_OPTIONS) is None


def find_workers(
    graph: ProgramGraph, apps: AppModel, objects: ConfigObjects, deploy: DeployFacts, worker_apps: Sequence[str]
) -> List[WorkerEntry]:
    closures: Dict[Tuple[str, Tuple[str, ...]], Tuple[Tuple[str, ...], Closure]] = {}

    def entry(spec: str, origin: str, command: Optional[WorkerCommand] = None) -> WorkerEntry:
        # `-I/--include` modules are imported at start like the app's own include setting.
        included = (command.listed("include") or ()) if command is not None else ()
        key = (spec, tuple(included))
        if key not in closures:  # commands with the same app and includes import the same modules
            modules = entry_modules(graph, spec)
            imported = modules + tuple(name for name in included if graph.index.get(name) is not None) if modules else ()
            closures[key] = (modules, build_closure(graph, apps, objects, spec, imported))
        modules, closure = closures[key]
        if command is None:
            return WorkerEntry(spec, origin, modules, True, closure)
        return WorkerEntry(spec, origin, modules, True, closure, command.options, command.origin, command.values)

    if worker_apps:
        return [entry(spec, "[tool.celerylint] worker-apps") for spec in worker_apps]
    commands = list(deploy.workers) + python_commands(graph, apps)
    if commands:
        # One entry a distinct command: two services may run one app on different queues.
        entries: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], WorkerEntry] = {}
        for command in commands:
            key = (command.app, command.values)
            if key not in entries:
                entries[key] = entry(command.app, str(command.origin), command)
        return list(entries.values())
    return _fallback_entries(graph, apps, objects)


def python_commands(graph: ProgramGraph, apps: AppModel) -> List[WorkerCommand]:
    """Workers started from Python: `os.execvp("celery", ["celery", "-A", "x", "worker", ...])`,
    subprocess lists, and `app.worker_main([...])` / `app.start([...])` (the calling module is the
    entry: the process that runs it has imported it)."""
    found: List[WorkerCommand] = []
    for info, call in graph.calls_named("execv", "execvp", "execvpe", "execve", "spawnv", "spawnvp", "run", "call", "check_call", "check_output", "Popen", "worker_main", "start"):
        if info.is_test:
            continue
        func = call.value.func
        method = func.last if isinstance(func, Ref) else ""
        where = Origin(info.rel, call.loc.line, call.loc.col)
        if method in ("worker_main", "start") and isinstance(func, Ref) and "." in func.path:
            receiver = graph.resolve(info, call.scope, Ref(func.scope, func.path.rpartition(".")[0]))
            if not apps.apps_of(receiver) or not call.value.args:
                continue
            words = _argument_words(graph, info, call.scope, call.value.args[0])
            if words is not None and "worker" in words[0]:
                found.append(_command(["celery", "-A", info.name, *words[0]], where, words[1]))
            continue
        resolved = graph.resolve(info, call.scope, func)
        if not (isinstance(resolved, ExtObj) and resolved.path in EXEC_FUNCTIONS):
            continue
        argv = call.value.args[1] if resolved.path.startswith("os.") and len(call.value.args) > 1 else (call.value.args[0] if call.value.args else None)
        words = _argument_words(graph, info, call.scope, argv) if argv is not None else None
        if words is not None and "worker" in words[0] and any(word in ("celery", "-A", "--app") or word.startswith("--app=") for word in words[0]):
            found.append(_command(words[0], where, words[1]))
    return [command for command in found if command.app]


def _command(words: List[str], where: Origin, grows: bool) -> WorkerCommand:
    app, options, values = parse_command(" ".join(f'"{word}"' for word in words))
    return WorkerCommand(app, where, options, values + (((MORE_OPTIONS, "yes"),) if grows else ()))


def _argument_words(graph: ProgramGraph, info: ModuleInfo, scope: str, value: Value) -> Optional[Tuple[List[str], bool]]:
    """The literal words of an argument list, and whether it may grow at run time: a list
    literal, or a local name whose first binding is one (later `args += ...` make it grow)."""
    grows = False
    if isinstance(value, Ref) and value.scope == "local" and "." not in value.path:
        function = graph.resolver.functions.get((info.name, scope))
        bindings = [binding.value for binding in (function.locals if function else ()) if binding.name == value.path]
        if not bindings:
            return None
        value, grows = bindings[0], len(bindings) > 1
    if not (isinstance(value, Seq) and not value.has_star):
        return None
    words = [item.value for item in value.items if isinstance(item, Const) and isinstance(item.value, str)]
    if len(words) != len(value.items):
        return None
    return words, grows


def entry_modules(graph: ProgramGraph, spec: str) -> Tuple[str, ...]:
    """The modules `celery -A spec` imports, as celery.app.utils.find_app does."""
    index = graph.index
    module, _, attr = spec.partition(":")
    info = index.get(module)
    if info is None and not attr and "." in module:
        info = index.get(module.rpartition(".")[0])
    if info is None:
        info = _unique_suffix_match(graph, module)
    if info is None:
        return ()
    modules = [info.name]
    globals_ = graph.resolver.globals.get(info.name, {})
    imports = graph.resolver.module_imports.get(info.name, {})
    has_app = any(name in globals_ or name in imports for name in ("app", "celery"))
    if info.is_package and not attr and not has_app:
        sub = index.get(f"{info.name}.celery", info)
        if sub is not None:
            modules.append(sub.name)
    return tuple(modules)


def app_reference_problem(graph: ProgramGraph, spec: str) -> Optional[str]:
    """Why `celery -A spec` cannot load its app, as celery.app.utils.find_app looks it up
    (`module:attr`, `module.attr`, or a module whose app Celery finds itself), or None when it
    can, when that is not known, or when the spec names no package of this project."""
    module, colon, attr = spec.partition(":")
    if not _names_project_package(graph, module.split(".")[0]):
        return None
    if _unique_suffix_match(graph, module) is not None:
        return None  # a worker started from a sub-folder
    info = graph.index.get(module)
    if colon:
        if info is None:
            return f"there is no module {module}"
        first = attr.split(".")[0]
        return None if _may_have_attr(graph, info, first) else f"{module} has no attribute {first}"
    if info is not None:
        return None  # Celery then finds the app in it (app, celery, a .celery submodule, any instance)
    parent, _, name = module.rpartition(".")
    owner = graph.index.get(parent) if parent else None
    if owner is not None:
        return None if _may_have_attr(graph, owner, name) else f"{parent} has no attribute {name}"
    return f"there is no module {module}"


def _names_project_package(graph: ProgramGraph, top: str) -> bool:
    return graph.index.get(top) is not None or any(name.startswith(top + ".") for name in graph.index.by_name)


def _may_have_attr(graph: ProgramGraph, info: ModuleInfo, name: str) -> bool:
    """Whether the module defines or imports ``name``, or might (its content is not all known)."""
    resolver = graph.resolver
    if info.broken or resolver.star_imports.get(info.name) or graph.index.get(f"{info.name}.{name}", info) is not None:
        return True
    if not info.facts.detailed:
        return bool({name, "__getattr__", "*"} & set(info.facts.defined_names))
    if name in resolver.globals.get(info.name, {}) or name in resolver.module_imports.get(info.name, {}):
        return True
    if (info.name, name) in resolver.functions or (info.name, name) in resolver.classes:
        return True
    if "__getattr__" in resolver.globals.get(info.name, {}) or (info.name, "__getattr__") in resolver.functions:
        return True
    return graph.index.get(f"{info.name}.{name}", info) is not None


def _unique_suffix_match(graph: ProgramGraph, module: str) -> Optional[ModuleInfo]:
    """A worker started from a sub-folder names modules relative to it."""
    matches = [info for info in graph.index.modules() if info.name.endswith("." + module)]
    return matches[0] if len(matches) == 1 else None


def _fallback_entries(graph: ProgramGraph, apps: AppModel, objects: ConfigObjects) -> List[WorkerEntry]:
    """No worker command found: every module that creates an app, then every module that
    imports one of those and that nothing imports (unless a creator's worker reaches it)."""
    creators = sorted({d.module.name for d in apps.definitions.values() if not d.module.is_test})
    entries = [
        WorkerEntry(name, FALLBACK, (name,), False, build_closure(graph, apps, objects, name, (name,))) for name in creators
    ]
    reached = set().union(*(entry.closure.modules for entry in entries)) if entries else set()
    creator_names = set(creators)
    for info in sorted(graph.index.modules(), key=lambda m: m.name):
        if info.name in reached or info.is_test or not graph.imported_modules(info, None) & creator_names:
            continue
        if not graph.importers().get(info.name):  # the reverse graph, only for a candidate
            closure = build_closure(graph, apps, objects, info.name, (info.name,))
            entries.append(WorkerEntry(info.name, FALLBACK, (info.name,), False, closure))
    return entries
