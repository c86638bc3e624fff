"""`celerylint inspect`: the static twin of `celery inspect registered`.

Text (the default) for people; ``--format json`` for tests and tools: what the model knows of
apps, workers and tasks, with where each fact comes from, sorted so that the output is the same
on every run. The golden files (fixtures/*/inspect.json) pin it, so that a model degrading to
"unknown" fails the tests even where no finding changes. The JSON document::

    {"projects": [{
        "root": path relative to the current folder,
        "apps": [{"created": "path:line", "module", "scope": function or null,
                  "settings": {name: RECORD for each of SHOWN_SETTINGS},
                  "task_cls": [{"class": qualname or null, "origin": "path:line"}],
                  "autodiscover": ["path:line" of its autodiscover_tasks() calls]}],
        "workers": [{"spec", "origin", "explicit", "resolved", "options": [--long options],
                     "entry_modules": [...], "imports": [{"module", "via"}],
                     "runs": ["module:function" run at import time], "uncertain": [reasons],
                     "apps": [{"app": "path:line", "settings": {...}}]}],  # as this worker sees them
        "tasks": [{"name", "module", "function", "defined": "path:line" of the decorator,
                   "app": "path:line" or null (shared_task), "apps": the apps it runs on,
                   "registered": [{"worker", "state": "yes" | "no" | "unknown", "via", "reasons"}],
                   "bases": [qualnames] or "unknown", "app_context": true | false | "unknown",
                   "app_context_bases": [its bases that push an app context],
                   "limits": {"time_limit" | "soft_time_limit":
                              {"task": RECORD, "config": RECORD, "workers": [specs passing --time-limit]}},
                   "serializer": {"task": RECORD, "config": RECORD}}],
        "processes": [{"kind": "worker" | "web", "command": "celery -A spec" or the server,
                       "origin": "path:line", "deployment": the file or folder deploying it,
                       "inherits": what else may set its variables, or null,
                       "env": {VARIABLE: RECORD for each variable the configuration reads},
                       "broker_url": {app: the broker URL it gets, or null when unknown}}]}]}

    A process's variable is "set" (value null when compose takes it from the shell), "not set",
    or "unknown" (it may come from what the process inherits).

    RECORD: {"state": "not set"}
          | {"state": "set", "value": JSON or null, "literal": whether value is the value,
             "origin": "path:line", "raw_key": the key as written,
             "note": why the value is not known (only when it applies: "may be overridden by ...")}
          | {"state": "unknown", "reasons": [{"why", "origin"}]}

Paths inside a project are relative to its root, in posix form; URL passwords are masked.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from celerylint.facts.types import Const, Seq, Value
from celerylint.model.app_config import ResolvedConfig, SettingValue
from celerylint.model.env_config import TEMPLATE, mask_password
from celerylint.model.process_env import ProcessEnv
from celerylint.model.project import Project, TaskDef, WorkerEntry
from celerylint.model.resolve import AppObj, ClassObj, ExtObj, Obj, ValObj
from celerylint.model.flask import pushes_context

ProjectAt = Tuple[Path, Project]  # a project's root and its model

SHOWN_SETTINGS = (
    "broker_url",
    "result_backend",
    "include",
    "imports",
    "task_serializer",
    "task_time_limit",
    "task_soft_time_limit",
    "task_always_eager",
    "task_ignore_result",
)


def _show_value(value: Optional[Value], note: Optional[str] = None) -> str:
    if note:
        return "<set, value not known>"
    if isinstance(value, Const):
        return mask_password(repr(value.value))
    if isinstance(value, Seq) and all(isinstance(item, Const) for item in value.items):
        items = [item.value for item in value.items if isinstance(item, Const)]
        return mask_password(repr(items if value.kind == "list" else tuple(items)))
    return "<computed at run time>"


def _constant(project: Project, setting: SettingValue) -> Optional[Value]:
    """A reference to a constant elsewhere (`Config.CELERY_BROKER_URL`), followed."""
    if setting.ctx is None or setting.value is None or isinstance(setting.value, (Const, Seq)):
        return setting.value
    info = project.index.by_name.get(setting.ctx[0])
    if info is None:
        return setting.value
    obj = project.resolve(info, setting.ctx[1], setting.value)
    return obj.value if isinstance(obj, ValObj) and isinstance(obj.value, (Const, Seq)) else setting.value


def _describe_setting(project: Project, app: AppObj, name: str) -> str:
    config = project.config(app)
    state, setting = config.lookup(name)
    if state == "set" and setting is not None:
        note = f"; {setting.note}" if setting.note else ""
        return f"{_show_value(_constant(project, setting), note)}  (from {setting.origin}, as {setting.raw_key}{note})"
    if state == "unknown":
        specific = config.uncertain.get(name)
        opacities = list(config.opaque) + ([specific] if specific is not None else [])
        reasons = "; ".join(sorted({f"{o.why} at {o.origin}" for o in opacities})[:3])
        return f"unknown ({reasons})"
    return "not set"


def _describe_variable(project: Project, env: ProcessEnv, name: str) -> str:
    var = env.get(name)
    if var is not None:
        shown = repr(mask_password(var.value)) if var.value is not None else "taken from the shell that starts it"
        return f"{shown}  ({var.origin})"
    why = _variable_unknown(project, env, name)
    return f"unknown ({why})" if why is not None else "not set"


def _variable_unknown(project: Project, env: ProcessEnv, name: str) -> Optional[str]:
    """Why a variable the process does not set may still be set, or None: it is not."""
    found = project.environment.variable(env, name)
    if found is not None and found[0] is None:
        return None
    return f"it may come from {env.inherits}" if env.inherits else "the code or a file the deployment loads may set it"


def _registration(project: Project, task: TaskDef) -> str:
    workers: List[WorkerEntry] = project.workers_for(task.app)
    if not workers:
        return "no worker entry point loads this app"
    parts = []
    for worker in workers:
        closure = worker.closure
        if task.module.name in closure.modules:
            parts.append(f"yes, by `-A {worker.spec}` via {closure.via.get(task.module.name, 'its entry')}")
        elif closure.uncertain:
            parts.append(f"unknown for `-A {worker.spec}` ({closure.uncertain[0]})")
        else:
            parts.append(f"NO: `-A {worker.spec}` never imports {task.module.name}")
    return "; ".join(parts)


def _base(project: Project, task: TaskDef) -> str:
    classes, known = project.task_base_classes(task)
    if not known:
        return "unknown"
    if not classes:
        return "celery.Task"
    return ", ".join(f"{cls.module}.{cls.qualname}" for cls in classes)


def _limits(task: TaskDef) -> str:
    limits = [f"{name}={_show_value(task.option(name))}" for name in ("soft_time_limit", "time_limit") if task.option(name) is not None]
    return ", ".join(limits) or "none in the decorator"


def _declared(project: Project) -> List[Tuple[str, str, str]]:
    """(package, version, where) for the packages whose version changes an answer; first one wins."""
    seen: Dict[str, Tuple[str, str, str]] = {}
    for package, version, where in project.deploy.versions:
        seen.setdefault(package, (package, version, str(where)))
    return [seen[name] for name in sorted(seen)]


def render(project: Project) -> str:
    lines: List[str] = []
    declared = _declared(project)
    if declared:
        lines.append("Declared versions: " + ", ".join(f"{name} {version} ({where})" for name, version, where in declared))
    if not project.apps:
        lines.append("No Celery app found.")
    for app, definition in sorted(project.apps.items(), key=lambda item: (item[1].module.rel, item[1].loc.line)):
        scope = f" in {definition.scope}()" if definition.scope else ""
        made = "annotated (its value is not known)" if definition.annotated else "created"
        lines.append(f"Celery app {made} at {definition.module.rel}:{definition.loc.line}{scope}")
        for name in SHOWN_SETTINGS:
            lines.append(f"  {name}: {_describe_setting(project, app, name)}")
    lines.append("")
    lines.append("Worker entry points:")
    for worker in project.workers:
        kind = worker.origin if worker.explicit else "fallback: a module that creates or starts an app"
        status = "" if worker.resolved else "  (not a module of this project)"
        lines.append(f"  -A {worker.spec}  [{kind}]{status}")
        for reason in worker.closure.uncertain[:3]:
            lines.append(f"    uncertain: {reason}")
    processes = _processes(project)
    if processes:
        variables = _read_variables(project)
        lines.append("")
        lines.append("Deployed processes and the environment variables the configuration reads:")
        for item in processes:
            kind, command, where, env, _ = item
            inherits = f"; may also inherit {env.inherits}" if env.inherits else ""
            lines.append(f"  {kind}: {command}  [{where}{inherits}]")
            for name in variables:
                lines.append(f"    {name}: {_describe_variable(project, env, name)}")
            for label, broker in _process_brokers(project, item).items():
                lines.append(f"    broker of the app at {label}: {broker if broker is not None else 'unknown'}")
    lines.append("")
    lines.append("Tasks:")
    for task in sorted(project.tasks, key=lambda t: (t.module.rel, t.decorator_loc.line)):
        apps = project.task_apps(task)
        owner = "shared_task" if task.app is None else f"app at {project.app_label(task.app)}"
        lines.append(f"  {task.name}  ({task.module.rel}:{task.decorator_loc.line}, {owner})")
        lines.append(f"    registered: {_registration(project, task)}")
        lines.append(f"    base: {_base(project, task)}; Flask app context: {'yes' if project.has_app_context(task) else 'no'}")
        lines.append(f"    time limits: {_limits(task)}" + ("" if apps else "; app unknown"))
    return "\n".join(lines) + "\n"


# --- several projects ------------------------------------------------------------------------


def _shown_root(root: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(root, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return root.as_posix()


def render_text(projects: Sequence[ProjectAt], base: Path) -> str:
    if len(projects) == 1:
        return render(projects[0][1])
    return "".join(f"Project {_shown_root(root, base)}:\n{render(project)}\n" for root, project in projects)


# --- JSON ----------------------------------------------------------------------------------------

Json = Union[None, bool, int, float, str, Sequence["Json"], Mapping[str, "Json"]]
LIMIT_OPTIONS = (("time_limit", "task_time_limit", "--time-limit"), ("soft_time_limit", "task_soft_time_limit", "--soft-time-limit"))


def _literal(value: Optional[Value]) -> Tuple[bool, Json]:
    """(True, its JSON value) for a literal or a list/tuple/set of literals, else (False, None)."""
    if isinstance(value, Const):
        item = value.value
        if isinstance(item, str):
            return True, mask_password(item)
        if item is None or isinstance(item, (bool, int)):
            return True, item
        if isinstance(item, float) and math.isfinite(item):
            return True, item
        return True, mask_password(repr(item))  # bytes, complex, inf/nan: no JSON value
    if isinstance(value, Seq) and not value.has_star:
        items: List[Json] = []
        for element in value.items:
            known, shown = _literal(element)
            if not known:
                return False, None
            items.append(shown)
        return True, items
    return False, None


def _record(state: str, value: Json = None, literal: bool = False, origin: Optional[str] = None,
            raw_key: Optional[str] = None, reasons: Sequence[Tuple[str, Optional[str]]] = ()) -> Dict[str, Json]:
    """What the model knows of one value: its state, "set" | "unknown" | "not set"; when set, the
    value (null unless `literal`: a literal or a constant it follows), where it is set and under
    which key; when unknown, why (each reason with where it comes from)."""
    record: Dict[str, Json] = {"state": state}
    if state == "set":
        record.update({"value": value, "literal": literal, "origin": origin, "raw_key": raw_key})
    elif state == "unknown":
        ordered = sorted(set(reasons), key=lambda reason: (reason[0], reason[1] or ""))
        record["reasons"] = [{"why": why, "origin": where} for why, where in ordered]
    return record


def _setting_record(project: Project, config: ResolvedConfig, name: str) -> Dict[str, Json]:
    state, setting = config.lookup(name)
    if state == "set" and setting is not None:
        literal, value = _literal(_constant(project, setting))
        record = _record("set", value, literal, str(setting.origin), setting.raw_key)
        if setting.note:
            record["note"] = setting.note
        return record
    if state == "unknown":
        reasons = [(opacity.why, str(opacity.origin)) for opacity in config.opaque]
        specific = config.uncertain.get(name)
        if specific is not None:
            reasons.append((specific.why, str(specific.origin)))
        return _record("unknown", reasons=reasons)
    return _record("not set")


def _settings(project: Project, config: ResolvedConfig) -> Dict[str, Json]:
    return {name: _setting_record(project, config, name) for name in SHOWN_SETTINGS}


def _where(rel: str, line: int) -> str:
    return f"{rel}:{line}"


def _obj_name(obj: Obj) -> Optional[str]:
    if isinstance(obj, ClassObj):
        return f"{obj.module}.{obj.qualname}"
    if isinstance(obj, ExtObj):
        return obj.path
    return None


def _app_key(project: Project, app: AppObj) -> Tuple[str, int, int]:
    definition = project.apps[app]
    return definition.module.rel, definition.loc.line, definition.loc.col


def _app_json(project: Project, app: AppObj) -> Dict[str, Json]:
    definition = project.apps[app]
    task_cls: Set[Tuple[str, int, str]] = set()
    for value, info, scope, loc in ((item.value, item.module, item.scope, item.loc) for item in project.task_classes(app)):
        obj = project.resolve(info, scope, value)
        if isinstance(value, Const) and isinstance(value.value, str):
            obj = project.resolver.resolve_dotted(value.value.replace(":", "."), info)
        task_cls.add((info.rel, loc.line, _obj_name(obj) or ""))
    autodiscover = sorted({(item.module.rel, item.call.loc.line) for item in project.autodiscoveries if item.app == app})
    # An app known only from an annotation (`app: Celery`) says so; others keep their layout.
    annotated: Dict[str, Json] = {"annotated": True} if definition.annotated else {}
    return {
        **annotated,
        "created": project.app_label(app),
        "module": definition.module.name,
        "scope": definition.scope or None,
        "settings": _settings(project, project.config(app)),
        "task_cls": [{"class": name or None, "origin": _where(rel, line)} for rel, line, name in sorted(task_cls)],
        "autodiscover": [_where(rel, line) for rel, line in autodiscover],
    }


def _worker_json(project: Project, worker: WorkerEntry) -> Dict[str, Json]:
    closure = worker.closure
    apps: List[Json] = []
    if worker.resolved:
        places = closure.places()
        for app in sorted(project.apps_in(closure), key=lambda app: _app_key(project, app)):
            apps.append({"app": project.app_label(app), "settings": _settings(project, project.config(app, places))})
    imports: List[Json] = [{"module": name, "via": closure.via.get(name)} for name in sorted(closure.modules)]
    return {
        "spec": worker.spec,
        "origin": worker.origin,
        "explicit": worker.explicit,
        "resolved": worker.resolved,
        "options": sorted(set(worker.options)),
        "entry_modules": list(worker.modules),
        "imports": imports,
        "runs": sorted(f"{module}:{qualname}" for module, qualname in closure.functions),
        "uncertain": sorted(set(closure.uncertain)),
        "apps": apps,
    }


def _registered_json(project: Project, task: TaskDef) -> List[Json]:
    entries: List[Json] = []
    module = task.module.name
    for worker in sorted(project.workers_for(task.app), key=lambda w: (w.spec, w.origin)):
        closure = worker.closure
        if module in closure.modules:
            entries.append({"worker": worker.spec, "state": "yes", "via": closure.via.get(module, "its entry"), "reasons": []})
        elif closure.uncertain:
            entries.append({"worker": worker.spec, "state": "unknown", "via": None, "reasons": sorted(set(closure.uncertain))})
        else:
            entries.append({"worker": worker.spec, "state": "no", "via": None, "reasons": []})
    return entries


def _class_binding_origin(project: Project, cls: ClassObj, attr: str) -> Optional[str]:
    """Where the class (or the first class of its MRO that binds it) sets attr."""
    for item in project.resolver.mro(cls):
        if not isinstance(item, ClassObj):
            continue
        fact = project.resolver.classes.get((item.module, item.qualname))
        info = project.index.by_name.get(item.module)
        if fact is None or info is None:
            continue
        for binding in reversed(fact.attributes):
            if binding.name == attr:
                return _where(info.rel, binding.loc.line)
    return None


def _task_option_record(project: Project, task: TaskDef, option: str, from_base: bool) -> Dict[str, Json]:
    """The decorator's option, else (from_base) the attribute of the task's Task base class."""
    defined = _where(task.module.rel, task.decorator_loc.line)
    value = task.option(option)
    if value is not None:
        literal, shown = _literal(value)
        return _record("set", shown, literal, defined, option)
    if not from_base:
        return _record("not set")
    classes, known = project.task_base_classes(task)
    if not known:
        return _record("unknown", reasons=[("the task's base class is not known", defined)])
    for cls in sorted(classes, key=lambda c: (c.module, c.qualname)):
        obj = project.resolver.class_attr(cls, option)
        if obj is None:
            continue
        literal, shown = _literal(obj.value) if isinstance(obj, ValObj) else (False, None)
        return _record("set", shown, literal, _class_binding_origin(project, cls, option), f"{cls.module}.{cls.qualname}.{option}")
    return _record("not set")


def _config_record(project: Project, task: TaskDef, name: str) -> Dict[str, Json]:
    """The setting in the configuration of the app(s) the task runs on."""
    apps = sorted(project.task_apps(task), key=lambda app: _app_key(project, app))
    defined = _where(task.module.rel, task.decorator_loc.line)
    if not apps:
        return _record("unknown", reasons=[("the task's app is not known", defined)])
    records = [_setting_record(project, project.config(app), name) for app in apps]
    if all(record == records[0] for record in records):
        return records[0]
    labels = ", ".join(project.app_label(app) for app in apps)
    return _record("unknown", reasons=[(f"the task runs on several apps whose {name} differ ({labels})", defined)])


def _limits_json(project: Project, task: TaskDef) -> Dict[str, Json]:
    result: Dict[str, Json] = {}
    apps = project.task_apps(task)
    workers = [w for app in apps for w in project.workers_for(app)]
    for option, setting, flag in LIMIT_OPTIONS:
        result[option] = {
            "task": _task_option_record(project, task, option, from_base=True),
            "config": _config_record(project, task, setting),
            "workers": sorted({w.spec for w in workers if flag in w.options}),
        }
    return result


def _task_json(project: Project, task: TaskDef) -> Dict[str, Json]:
    classes, known = project.task_base_classes(task)
    names = sorted({f"{cls.module}.{cls.qualname}" for cls in classes})
    bases: Json = ("unknown" if not known else list(names) or ["celery.Task"])
    context: Json = "unknown" if not known else project.has_app_context(task)
    pushing = sorted({f"{cls.module}.{cls.qualname}" for cls in classes if pushes_context(project.graph, cls)})
    return {
        "name": task.name,
        "module": task.module.name,
        "function": task.function.qualname,
        "defined": _where(task.module.rel, task.decorator_loc.line),
        "app": project.app_label(task.app) if task.app is not None else None,
        "apps": sorted(project.app_label(app) for app in project.task_apps(task)),
        "registered": _registered_json(project, task),
        "bases": bases,
        "app_context": context,
        "app_context_bases": list(pushing),
        "limits": _limits_json(project, task),
        "serializer": {
            "task": _task_option_record(project, task, "serializer", from_base=False),
            "config": _config_record(project, task, "task_serializer"),
        },
    }


def _read_variables(project: Project) -> List[str]:
    """The environment variables the apps' configurations read, Celery's own first."""
    reader = project.environment
    names: List[str] = ["CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"]
    views: List[Optional[WorkerEntry]] = [None, *project.workers]
    for app in project.apps:
        for worker in views:
            if worker is not None and app not in project.apps_in(worker.closure):
                continue
            config = project.config(app, worker.closure.places() if worker is not None else None)
            for setting in config.settings.values():
                names.extend(reader.setting_reads(setting))
    return list(dict.fromkeys(names))


def _processes(project: Project) -> List[Tuple[str, str, str, ProcessEnv, Optional[WorkerEntry]]]:
    """(kind, command, origin, environment, worker entry) of each deployed process whose
    environment is known, in file order."""
    found: List[Tuple[str, str, str, ProcessEnv, Optional[WorkerEntry]]] = []
    for command, env, worker in project.worker_commands():
        found.append(("worker", f"celery -A {command.app}", str(command.origin), env, worker))
    for web in project.web_commands:
        found.append(("web", web.server, str(web.origin), web.env, None))
    return sorted(found, key=lambda item: (item[2].rpartition(":")[0], int(item[2].rpartition(":")[2]), item[0]))


def _variable_record(project: Project, env: ProcessEnv, name: str) -> Dict[str, Json]:
    var = env.get(name)
    if var is not None:
        exact = var.value is not None and not TEMPLATE.search(var.value)
        return _record("set", mask_password(var.value) if var.value is not None else None, exact, str(var.origin), name)
    why = _variable_unknown(project, env, name)
    return _record("unknown", reasons=[(why, None)]) if why is not None else _record("not set")


def _process_json(project: Project, variables: Sequence[str], item: Tuple[str, str, str, ProcessEnv, Optional[WorkerEntry]]) -> Dict[str, Json]:
    kind, command, where, env, worker = item
    return {
        "kind": kind,
        "command": command,
        "origin": where,
        "deployment": env.deployment,
        "inherits": env.inherits,
        "env": {name: _variable_record(project, env, name) for name in variables},
        "broker_url": dict(_process_brokers(project, item)),
    }


def _process_brokers(project: Project, item: Tuple[str, str, str, ProcessEnv, Optional[WorkerEntry]]) -> Dict[str, Optional[str]]:
    """The broker URL each app of the process gets (None: not known), by app label."""
    _, _, _, env, worker = item
    apps = project.apps_in(worker.closure) if worker is not None else list(project.apps)
    brokers: Dict[str, Optional[str]] = {}
    for app in sorted(apps, key=lambda app: _app_key(project, app)):
        seen = project.setting_in_process(app, "broker_url", env, worker)
        brokers[project.app_label(app)] = mask_password(seen.text) if seen is not None and seen.exact else None
    return brokers


def project_json(project: Project) -> Dict[str, Json]:
    """Apps, workers and tasks of one project; paths relative to its root, posix."""
    apps = sorted(project.apps, key=lambda app: _app_key(project, app))
    workers = sorted(project.workers, key=lambda w: (w.spec, w.origin))
    tasks = sorted(project.tasks, key=lambda t: (t.module.rel, t.decorator_loc.line, t.decorator_loc.col, t.name))
    variables = _read_variables(project)
    return {
        "versions": [{"package": name, "version": version, "origin": where} for name, version, where in _declared(project)],
        "apps": [_app_json(project, app) for app in apps],
        "workers": [_worker_json(project, worker) for worker in workers],
        "tasks": [_task_json(project, task) for task in tasks],
        "processes": [_process_json(project, variables, item) for item in _processes(project)],
    }


def render_json(projects_at: Sequence[ProjectAt], base: Path) -> str:
    """One JSON document for every project; roots relative to base (the current folder)."""
    projects: List[Json] = []
    for root, project in projects_at:
        document: Dict[str, Json] = {"root": _shown_root(root, base)}
        document.update(project_json(project))
        projects.append(document)
    return json.dumps({"projects": projects}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- inspect --why TASK: the PENDING checklist ------------------------------------------------


def find_task(project: Project, query: str) -> Optional[TaskDef]:
    """A task by its registered name or as module.function."""
    for task in project.tasks:
        if query in (task.name, f"{task.module.name}.{task.function.qualname}"):
            return task
    return None


def _setting_line(project: Project, app: AppObj, name: str, worker: Optional[WorkerEntry]) -> str:
    config = project.config(app, worker.closure.places() if worker is not None else None)
    state, setting = config.lookup(name)
    if state == "set" and setting is not None:
        note = f"; {setting.note}" if setting.note else ""
        return f"{_show_value(_constant(project, setting), note)} ({setting.origin}{note})"
    if state == "unknown":
        why = config.uncertain.get(name) or (config.opaque[0] if config.opaque else None)
        return f"unknown ({why.why} at {why.origin})" if why is not None else "unknown"
    return "NOT SET"


def render_why(project: Project, task: TaskDef) -> str:
    """The questions users ask of a task that sits in PENDING, each answered from the source with
    the file:line it rests on, or unknown and why (../shared/reference/pending-checklist.md)."""
    apps = project.task_apps(task)
    lines = [f"Why might '{task.name}' ({task.module.rel}:{task.decorator_loc.line}) stay PENDING?"]
    if not apps:
        lines.append("  app: unknown (a shared task, and no worker's app is known)")
        return "\n".join(lines) + "\n"
    for app in apps:
        workers = project.workers_for(app)
        label = project.app_label(app)
        lines.append(f"  app created at {label}; workers that load it: " + (", ".join(f"`-A {w.spec}` ({w.origin})" for w in workers) or "none found"))
        lines.append(f"  1. result backend, as the web process sees it: {_setting_line(project, app, 'result_backend', None)}")
        for worker in workers:
            extra = " (--result-backend given)" if worker.value("result_backend") else ""
            lines.append(f"     as `-A {worker.spec}` sees it: {_setting_line(project, app, 'result_backend', worker)}{extra}")
        lines.append(f"  2. broker, as the web process sees it: {_setting_line(project, app, 'broker_url', None)}")
        for worker in workers:
            given = worker.value("broker")
            seen = f"{mask_password(repr(given))} (-b)" if given else _setting_line(project, app, "broker_url", worker)
            lines.append(f"     as `-A {worker.spec}` sees it: {seen}")
        routes = [route for route in project.routes() if route.task == task]
        queues = sorted({route.queue for route in routes}) or [_setting_text_or_default(project, app)]
        for queue in queues:
            where = ", ".join(f"{route.how} at {route.origin}" for route in routes if route.queue == queue) or "the default queue"
            consumers = []
            for worker in workers:
                consumed = project.worker_queues(worker, app)
                consumers.append(f"`-A {worker.spec}`: " + ("unknown" if consumed is None else "yes" if queue in consumed else "NO"))
            lines.append(f"  3. queue '{queue}' ({where}); consumed by " + ("; ".join(consumers) or "no known worker"))
        lines.append(f"  4. registered in the worker: {_registration(project, task)}")
        context = "provided" if project.has_app_context(task) else "none pushed (Flask state the task touches fails at once)"
        lines.append(f"  5. Flask app context: {context}; base: {_base(project, task)}")
        ignored, where_ignored = project.ignores_result(task)
        lines.append("  6. results stored: " + {"yes": f"NO, ignore_result ({where_ignored})", "no": "yes", "unknown": "unknown"}[ignored])
        lines.append(f"  7. time limits: task {_limits(task)}")
        for worker in workers:
            flag = worker.value("time_limit") or worker.value("soft_time_limit")
            seen = f"--time-limit {flag}" if flag else f"task_time_limit {_setting_line(project, app, 'task_time_limit', worker)}"
            lines.append(f"     as `-A {worker.spec}` sees it: {seen}")
        state, serializer = project.task_serializer(task)
        lines.append(f"  8. arguments encoded with: {serializer if state == 'set' else 'unknown'}")
    return "\n".join(lines) + "\n"


def _setting_text_or_default(project: Project, app: AppObj) -> str:
    state, setting = project.config(app).lookup("task_default_queue")
    if state == "set" and setting is not None and isinstance(setting.value, Const) and isinstance(setting.value.value, str):
        return setting.value.value
    return "celery"
