"""`celerylint inspect`: the static twin of `celery inspect registered`."""

from __future__ import annotations

import re
from typing import List, Optional

from celerylint.facts.types import Const, Seq, Value
from celerylint.model.project import Project, TaskDef, WorkerEntry
from celerylint.model.config import Setting
from celerylint.model.resolve import AppObj, ValObj
from celerylint.rules.common import task_apps, task_base_classes
from celerylint.rules.context import context_provided

SHOWN_SETTINGS = ("broker_url", "result_backend", "include", "imports", "task_serializer", "task_time_limit", "task_soft_time_limit")


# scheme://user:password@host: inspect output lands in CI logs and bug reports.
URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+(?=@)")


def mask_password(text: str) -> str:
    return URL_PASSWORD.sub(lambda match: match.group("head") + "****", text)


def _show_value(value: Optional[Value]) -> str:
    if isinstance(value, Const):
        return mask_password(repr(value.value))
    if isinstance(value, Seq) and all(isinstance(item, Const) for item in value.items):
        items = [item.value for item in value.items if isinstance(item, Const)]
        return mask_password(repr(items if value.kind == "list" else tuple(items)))
    return "<computed at run time>"


def _constant(project: Project, setting: Setting) -> Optional[Value]:
    """A reference to a constant elsewhere (`Config.CELERY_BROKER_URL`), followed."""
    if setting.ctx is None or setting.value is None or isinstance(setting.value, (Const, Seq)):
        return setting.value
    info = project.index.by_name.get(setting.ctx[0])
    if info is None:
        return setting.value
    obj = project.resolve(info, setting.ctx[1], setting.value)
    return obj.value if isinstance(obj, ValObj) and isinstance(obj.value, (Const, Seq)) else setting.value


def _describe_setting(project: Project, app: AppObj, name: str) -> str:
    state, setting = project.config(app).lookup(name)
    if state == "set" and setting is not None:
        return f"{_show_value(_constant(project, setting))}  (from {setting.origin}, as {setting.raw_key})"
    if state == "unknown":
        reasons = "; ".join(sorted({f"{o.why} at {o.origin}" for o in project.config(app).opaque})[:3])
        return f"unknown ({reasons})"
    return "not set"


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
    classes, known = task_base_classes(project, task)
    if not known:
        return "unknown"
    if not classes:
        return "celery.Task"
    return ", ".join(f"{cls.module}.{cls.qualname}" for cls in classes)


def _limits(task: TaskDef) -> str:
    limits = [f"{name}={_show_value(task.option(name))}" for name in ("soft_time_limit", "time_limit") if task.option(name) is not None]
    return ", ".join(limits) or "none in the decorator"


def render(project: Project) -> str:
    lines: List[str] = []
    if not project.apps:
        lines.append("No Celery app found.")
    for app, definition in sorted(project.apps.items(), key=lambda item: (item[1].module.rel, item[1].loc.line)):
        scope = f" in {definition.scope}()" if definition.scope else ""
        lines.append(f"Celery app created at {definition.module.rel}:{definition.loc.line}{scope}")
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
    lines.append("")
    lines.append("Tasks:")
    for task in sorted(project.tasks, key=lambda t: (t.module.rel, t.decorator_loc.line)):
        apps = task_apps(project, task)
        owner = "shared_task" if task.app is None else f"app at {project.app_label(task.app)}"
        lines.append(f"  {task.name}  ({task.module.rel}:{task.decorator_loc.line}, {owner})")
        lines.append(f"    registered: {_registration(project, task)}")
        lines.append(f"    base: {_base(project, task)}; Flask app context: {'yes' if context_provided(project, task) else 'no'}")
        lines.append(f"    time limits: {_limits(task)}" + ("" if apps else "; app unknown"))
    return "\n".join(lines) + "\n"
