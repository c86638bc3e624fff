"""CEL021: a task sent by a name that no task of the project registers."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterator, List, Optional, Set, Tuple

from celerylint.facts.types import MODULE_SCOPE, Attr, BinOp, Call, CallFact, Const, DictVal, Loc, Ref, Sub, Value, last_name
from celerylint.findings import Related
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project, TaskDef
from celerylint.model.app_config import Origin
from celerylint.model.resolve import AttrOf, ExtObj, Obj, ValObj
from celerylint.rules.base import Report, Rule, case, related_at, report

SEND_TASK = frozenset(
    {
        "celery.current_app.send_task",
        "celery.app.current_app.send_task",
        "celery.app.default_app.send_task",
        "celery.execute.send_task",
    }
)
SIGNATURE = frozenset(
    {f"celery.{module}{name}" for module in ("", "canvas.") for name in ("signature", "Signature", "subtask")}
)
CUTOFF = 0.8  # difflib's similarity for a did-you-mean
MAX_TYPO = 2  # edits (insert, delete, replace, swap) a near miss may be from a registered name
MAX_HOPS = 3


@dataclass(frozen=True)
class Registry:
    """The names the project's tasks are registered under."""

    tasks: Dict[str, Optional[TaskDef]]  # name -> its task (None: a Task class, a name given elsewhere)
    derived: FrozenSet[str]  # names made from a module path, which another sys.path root shortens
    packages: FrozenSet[str]  # the first component of every non-test module's name

    def near_miss(self, name: str) -> Optional[str]:
        close = difflib.get_close_matches(name, list(self.tasks), n=1, cutoff=CUTOFF)
        return close[0] if close else None

    def judges(self, name: str) -> bool:
        """The name is one the project's own worker would run: not registered, and not another
        service's (no shared package, no near miss)."""
        if name in self.tasks or name.split(".", 1)[0] == "celery":  # celery.backend_cleanup...
            return False
        if any(name.endswith("." + known) or known.endswith("." + name) for known in self.derived):
            return False  # the same module seen from another sys.path entry
        near = self.near_miss(name)
        if near is not None and _edits(name, near) <= MAX_TYPO:
            return True
        return "." in name and name.split(".", 1)[0] in self.packages


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: inserts, deletes, replaces and adjacent swaps."""
    previous2: List[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def _text(value: Optional[Value]) -> Optional[str]:
    """A string written as a literal; None for anything else (f-strings, variables, calls)."""
    if isinstance(value, Const) and isinstance(value.value, str):
        return value.value
    return None


def _registry(project: Project) -> Optional[Registry]:
    """Every name the project's read modules register, or None when some task's name is not
    known (then nothing is judged). Whether a module read only for its imports may define tasks
    is asked later, and only for a name the registry would judge: it resolves many imports."""
    names = project.found_names
    if not names.known or not names.tasks:
        return None
    packages = frozenset(info.name.split(".", 1)[0] for info in project.index.modules() if not info.is_test)
    return Registry(names.tasks, names.derived, packages)


@dataclass(frozen=True)
class Sent:
    """A task name written where a task is sent by name."""

    rel: str
    loc: Loc
    name: str
    beat: Optional[str] = None  # the beat_schedule entry's key ("" when computed); None: not beat


def _is_app(project: Project, info: ModuleInfo, scope: str, func: Value, method: str) -> bool:
    """`X.<method>` where X is (every value it may be is) a Celery app of the project, or
    Celery's current_app."""
    if isinstance(func, Ref) and "." in func.path:
        receivers = project.graph.receivers(info, scope, Ref(func.scope, func.path.rpartition(".")[0]))
        if receivers and all(project.apps_of(obj) for obj in receivers):
            return True
    obj = project.resolve(info, scope, func)
    if isinstance(obj, AttrOf) and obj.path == method and project.apps_of(obj.base):
        return True
    return isinstance(obj, ExtObj) and obj.path in SEND_TASK and method == "send_task"


def _sent_by_call(project: Project) -> Iterator[Sent]:
    for info, call in project.calls_named("send_task", "signature", "Signature", "subtask"):
        if info.is_test:
            continue
        func = call.value.func
        method = last_name(func)
        if method == "send_task":
            if _is_app(project, info, call.scope, func, "send_task"):
                name = _text(_first(call, "name"))
                if name is not None:
                    yield Sent(info.rel, call.arg_loc("0") if call.value.args else call.loc, name)
            continue
        obj = project.resolve(info, call.scope, func)
        if (isinstance(obj, ExtObj) and obj.path in SIGNATURE) or (
            method == "signature" and _is_app(project, info, call.scope, func, "signature")
        ):
            argument = _first(call, "task") or _first(call, "varies")
            if isinstance(argument, DictVal):  # signature({"task": "...", ...})
                argument = _item(argument, "task")
            name = _text(argument)
            if name is not None:
                yield Sent(info.rel, call.arg_loc("0") if call.value.args else call.loc, name)


def _first(call: CallFact, keyword: str) -> Optional[Value]:
    return call.value.args[0] if call.value.args else call.value.kwarg(keyword)


def _item(value: DictVal, key: str) -> Optional[Value]:
    for item_key, item in value.items:
        if item_key == Const(key):
            return item
    return None


Found = Tuple[ModuleInfo, str, DictVal, Origin]  # a dict, the module and scope it is written in, and where


def _dicts(
    project: Project, info: ModuleInfo, scope: str, value: Optional[Value], where: Origin,
    seen: Set[Tuple[str, str]], depth: int = 0,
) -> Iterator[Found]:
    """Every dict a value may be: a dict display, `dict(...)`, `a | b`, and names, through each
    module-level binding of the name (`X = {...}` in one branch, `X |= {...}` later), Django's
    `settings.X` and an app's `conf.X` included; each with the statement that writes it."""
    if value is None or depth > MAX_HOPS * 3:
        return
    if isinstance(value, DictVal):
        yield info, scope, value, where
    elif isinstance(value, Call) and value.func == Ref("builtin", "dict") and not value.has_star:
        if value.kwargs:
            yield info, scope, DictVal(tuple((Const(key), item) for key, item in value.kwargs)), where
        for argument in value.args[:1]:
            yield from _dicts(project, info, scope, argument, where, seen, depth + 1)
    elif isinstance(value, BinOp) and value.op == "BitOr":
        yield from _dicts(project, info, scope, value.left, where, seen, depth + 1)
        yield from _dicts(project, info, scope, value.right, where, seen, depth + 1)
    elif isinstance(value, (Ref, Attr)):
        yield from _named_dicts(project, info, scope, value, where, seen, depth)


def _named_dicts(
    project: Project, info: ModuleInfo, scope: str, value: Value, where: Origin, seen: Set[Tuple[str, str]], depth: int
) -> Iterator[Found]:
    target: Optional[Tuple[ModuleInfo, str]] = None  # a module-level name: every binding of it
    if isinstance(value, Ref) and value.scope == "global" and "." not in value.path:
        target = info, value.path
    elif isinstance(value, Ref) and value.scope == "import":
        found, rest = project.index.longest_module_prefix(project.index.absolute(info, value.path), info)
        if found is not None and len(rest) == 1:
            target = found, rest[0]
    if target is None:
        obj = project.resolve(info, scope, value)
        setting = _setting_name(project, obj)
        settings = project.objects.django_settings_module(info) if setting is not None else None
        if settings is not None and setting is not None:
            target = settings, setting
        elif isinstance(obj, ValObj):
            found = project.index.by_name.get(obj.module)
            if found is not None:
                yield from _dicts(project, found, obj.scope, obj.value, where, seen, depth + 1)
            return
    if target is None or (target[0].name, target[1]) in seen or target[0].is_test:
        return
    module, name = target
    seen.add((module.name, name))
    for binding in module.facts.globals:
        if binding.name == name:
            written = project.origin(module, binding.loc)
            yield from _dicts(project, module, MODULE_SCOPE, binding.value, written, seen, depth + 1)


def _setting_name(project: Project, obj: Obj) -> Optional[str]:
    """X in `django.conf.settings.X` and in `app.conf.X` (a Django project's settings)."""
    if isinstance(obj, ExtObj) and obj.path.startswith("django.conf.settings.") and obj.path.count(".") == 3:
        return obj.path.rpartition(".")[2]
    if isinstance(obj, AttrOf) and obj.path.startswith("conf.") and obj.path.count(".") == 1:
        return obj.path.partition(".")[2] if project.apps_of(obj.base) else None
    return None


def _entries(project: Project, info: ModuleInfo, scope: str, value: Optional[Value], where: Origin) -> Iterator[Sent]:
    """The beat entries of a schedule value: each entry's literal task name."""
    for found, at, schedule, written in _dicts(project, info, scope, value, where, set()):
        for key, entry in schedule.items:
            label = str(key.value) if isinstance(key, Const) else ""
            yield from _entry(project, found, at, label, entry, written)


def _entry(project: Project, info: ModuleInfo, scope: str, label: str, entry: Value, where: Origin) -> Iterator[Sent]:
    for _, _, body, written in _dicts(project, info, scope, entry, where, set()):
        name = _text(_item(body, "task"))
        if name is not None:
            yield Sent(written.rel, Loc(written.line, written.col, written.line, written.col), name, label)


def _sent_by_beat(project: Project) -> Iterator[Sent]:
    """The app's beat_schedule setting, `app.conf.beat_schedule[key] = {...}` and
    `app.conf.beat_schedule.update({...})`."""
    for app, definition in project.apps.items():
        if definition.module.is_test:
            continue
        state, setting = project.config(app).lookup("beat_schedule")
        if state != "set" or setting is None or setting.ctx is None:
            continue
        info = project.index.by_name.get(setting.ctx[0])
        if info is not None and not info.is_test:
            yield from _entries(project, info, setting.ctx[1], setting.value, setting.origin)
    for info in project.index.modules():
        if info.is_test:
            continue
        for store in info.facts.stores:
            target = store.target
            if not (isinstance(target, Sub) and isinstance(target.base, Ref)):
                continue
            if _on_schedule(project, info, store.scope, target.base):
                label = str(target.key.value) if isinstance(target.key, Const) else ""
                yield from _entry(project, info, store.scope, label, store.value, project.origin(info, store.loc))
    for info, call in project.calls_named("update"):
        func = call.value.func
        if info.is_test or not (isinstance(func, Ref) and "." in func.path):
            continue
        if _on_schedule(project, info, call.scope, Ref(func.scope, func.path.rpartition(".")[0])):
            for argument in call.value.args[:1]:
                yield from _entries(project, info, call.scope, argument, project.origin(info, call.loc))


def _on_schedule(project: Project, info: ModuleInfo, scope: str, ref: Ref) -> bool:
    """`app.conf.beat_schedule` of an app of the project."""
    if not ref.path.endswith(".conf.beat_schedule"):
        return False
    receiver = Ref(ref.scope, ref.path[: -len(".conf.beat_schedule")])
    receivers = project.graph.receivers(info, scope, receiver)
    return bool(receivers) and all(project.apps_of(obj) for obj in receivers)


def check(project: Project) -> Iterator[Report]:
    sent: List[Sent] = []
    for item in [*_sent_by_call(project), *_sent_by_beat(project)]:
        if item not in sent:
            sent.append(item)
    if not sent:
        return
    registry = _registry(project)
    if registry is None:
        return
    judged = [item for item in sent if registry.judges(item.name)]
    if not judged or not project.task_names.known:
        return
    for item in judged:
        near = registry.near_miss(item.name)
        related: List[Related] = []
        hint = ""
        if near is not None:
            hint = f"Did you mean {near!r}?"
            task = registry.tasks[near]
            if task is not None:
                loc = task.decorator_loc
                related.append(related_at(task.module.rel, loc.line, loc.col, f"the task registered as {near!r}"))
        outcome = "the caller waits in PENDING" if item.beat is None else "it never runs"
        where = "" if item.beat is None else f"beat entry {item.beat!r}: " if item.beat else "beat entry: "
        yield report(
            item.rel, item.loc,
            f"{where}no task is named {item.name!r}: the worker rejects it as unregistered; {outcome}",
            related,
            hint=hint,
        )


CEL021_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", include=["proj.tasks"])
# --- proj/tasks.py
from proj.celery_app import app


@app.task
def send_welcome_email(user_id):
    return user_id
# --- proj/views.py
from proj.celery_app import app


def signup(user_id):
    app.send_task("proj.tasks.send_welcom_email", args=[user_id])  # expect: CEL021
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery
from celery.schedules import crontab

app = Celery("proj", broker="redis://", include=["proj.reports.tasks"])
app.conf.beat_schedule = {  # expect: CEL021
    "nightly-report": {
        "task": "proj.tasks.build_report",
        "schedule": crontab(hour=3, minute=0),
    },
    "cleanup": {"task": "proj.reports.tasks.cleanup", "schedule": 3600},
}
# --- proj/reports/__init__.py
# --- proj/reports/tasks.py
from celery import shared_task


@shared_task
def build_report():
    pass


@shared_task
def cleanup():
    pass
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery, current_app, signature

app = Celery("proj", broker="redis://")


@app.task(name="emails.send")
def send(address):
    return address


def notify(address):
    current_app.send_task("email.send", args=[address])  # expect: CEL021
    signature("emails.sned", args=(address,)).delay()  # expect: CEL021
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/settings.py
from proj.beat import PERIODIC_TASKS, PRODUCTION_TASKS

DEBUG = False
CELERY_BROKER_URL = "redis://"
CELERY_BEAT_SCHEDULE = dict(PERIODIC_TASKS)
if not DEBUG:
    CELERY_BEAT_SCHEDULE |= PRODUCTION_TASKS
# --- proj/beat.py
from celery.schedules import crontab

PERIODIC_TASKS = {
    "sync": {"task": "proj.tasks.sync_products", "schedule": 600},
}
PRODUCTION_TASKS = {  # expect: CEL021
    "report": {"task": "proj.tasks.send_reprot", "schedule": crontab(hour=6, minute=0)},
}
# --- proj/celery.py
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule["purge"] = {"task": "proj.task.purge", "schedule": 86400}  # expect: CEL021
# --- proj/tasks.py
from celery import shared_task

retrying = shared_task(acks_late=True, autoretry_for=(Exception,))


@shared_task
def sync_products():
    pass


@retrying
def send_report():
    pass


@shared_task
def purge():
    pass
'''
    ),
)
CEL021_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", include=["proj.tasks"])
app.conf.beat_schedule = {
    "welcome": {"task": "proj.tasks.send_welcome_email", "schedule": 60},
    "expire": {"task": "celery.backend_cleanup", "schedule": 3600},
}
# --- proj/tasks.py
from proj.celery_app import app


@app.task
def send_welcome_email(user_id):
    return user_id
# --- proj/views.py
from proj.celery_app import app


def signup(user_id):
    app.send_task("proj.tasks.send_welcome_email", args=[user_id])
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://")


@app.task
def refund(order_id):
    return order_id


def checkout(order_id, region):
    app.send_task("billing.charge", args=[order_id])  # another service's worker runs it
    app.send_task(f"proj.celery_app.refund_{region}", args=[order_id])  # built at run time
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://")


@app.task
def refund(order_id):
    return order_id
# --- proj/client.py
class JobClient:
    def send_task(self, name, payload):
        return name, payload


def submit(order_id):
    JobClient().send_task("proj.celery_app.refnd", {"id": order_id})  # not a Celery app
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery.py
from celery import Celery

app = Celery("proj", broker="redis://")
app.conf.beat_schedule = {
    "moderate": {"task": "proj.tasks.process_queue", "schedule": 3600},
    "sync": {"task": "proj.tasks.sync_repository", "schedule": 600},
    "reindex": {"task": "proj.tasks.rebuild_index", "schedule": 86400},
}


def periodic(**options):
    return app.task(bind=True, **options)
# --- proj/tasks.py
from celery import Task, shared_task

from proj.celery import app, periodic

retrying = shared_task(acks_late=True)  # a decorator made once, used on many tasks


@retrying
def process_queue():
    pass


@periodic(queue="low")  # the project's own task decorator
def rebuild_index(self):
    pass


class SyncRepository(Task):
    name = __name__ + ".sync_repository"

    def run(self):
        pass


app.register_task(SyncRepository())
'''
    ),
)


RULE = Rule(
    code="CEL021",
    name="unknown-task-name",
    summary="A task sent by name (send_task, signature, beat_schedule) that no task of the project registers.",
    what=(
        "Finds the task names written as string literals in `app.send_task(...)` (or "
        "`current_app.send_task`), `signature(...)`/`Signature(...)`/`app.signature(...)` and the "
        "`task` of each beat entry (the app's `beat_schedule` however it is configured, Django's "
        "`CELERY_BEAT_SCHEDULE` included, `app.conf.beat_schedule[key] = {...}` and "
        "`app.conf.beat_schedule.update(...)`), and reports a name no task of the project is "
        "registered under when it is within two typing errors of a registered name or starts with "
        "one of the project's own packages. A beat entry is reported at the statement that writes "
        "its dict. Names of other services' tasks (no shared package, no near miss), Celery's own "
        "`celery.*` tasks, names built at run time and calls in tests are not judged; nothing is "
        "reported when some task's name cannot be known (a computed `name=`, a module that defines "
        "tasks but cannot be read)."
    ),
    why=(
        "Sending by name skips the import that would fail at once. The message is published, and "
        "the worker that receives it logs 'Received unregistered task' and discards it: the caller "
        "waits in PENDING forever, and a periodic task silently never runs."
    ),
    fix=(
        "Use the name the task is registered under (its `name=`, else module.function), or send "
        "the task object where the code can import it (`send_welcome_email.delay(user_id)`, "
        "`.s()`): a wrong name then fails at once, in the caller."
    ),
    invalid=CEL021_INVALID,
    valid=CEL021_VALID,
    check=check,
)
