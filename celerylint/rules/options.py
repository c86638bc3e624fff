"""CEL020: a task decorator keyword Celery does not know: it becomes an inert class attribute."""

from __future__ import annotations

import difflib
from typing import FrozenSet, Iterator, Set

from celerylint.facts.types import Const, Ref
from celerylint.model.project import Project
from celerylint.model.task_options import decorator_options, task_attributes
from celerylint.model.task_shape import task_classes
from celerylint.rules.base import Report, Rule, case, report

ATTRIBUTE_READERS = frozenset({"getattr", "hasattr"})


def _attributes_read(project: Project) -> FrozenSet[str]:
    """Attribute names the project's code reads (`task.lock_ttl`, `getattr(task, "lock_ttl")`):
    a custom option may be read by the project's own signal handlers or base classes."""
    names: Set[str] = set()
    for info in project.index.modules():
        for use in info.facts.uses:
            names.update(use.ref.path.split(".")[1:])
        for call in info.facts.calls:
            func = call.value.func
            args = call.value.args
            if isinstance(func, Ref) and func.scope == "builtin" and func.path in ATTRIBUTE_READERS and len(args) > 1:
                if isinstance(args[1], Const) and isinstance(args[1].value, str):
                    names.add(args[1].value)
    return frozenset(names)


NEAR_MISS = 0.85  # a typo of one of Celery's own options (ignore_results, soft_timelimit)


def check(project: Project) -> Iterator[Report]:
    known = decorator_options() | task_attributes()
    public = sorted(name for name in known if not name.startswith("_"))
    read = None
    for task in project.tasks:
        if not task.exact:
            continue  # a project wrapper's keywords are its own
        for name, _ in task.options:
            if name in known:
                continue
            classes = task_classes(project, task)
            typo = difflib.get_close_matches(name, public, n=1, cutoff=NEAR_MISS)
            if classes is not None and name in classes.declared(project):
                continue  # the project's base class declares it
            if classes is None and not typo:
                continue  # an unknown base class may use it; a typo of Celery's own option is one anyway
            read = _attributes_read(project) if read is None else read
            if name in read:
                continue
            close = typo or difflib.get_close_matches(name, public, n=1)
            yield report(
                task.module.rel, task.decorator_loc,
                f"{name}= is not a task option: Celery sets it as an attribute nobody reads, and nothing happens",
                hint=f"Did you mean {close[0]}=?" if close else "",
            )


CEL020_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task(ignore_results=True)  # expect: CEL020
def ping():
    return "pong"
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import shared_task


@shared_task(max_retry=3, soft_timelimit=10)  # expect: CEL020
def fetch(url):
    return url
'''
    ),
)
CEL020_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery, Task

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


class LockedTask(Task):
    lock_ttl = 60  # the base declares the option it reads

    def __call__(self, *args, **kwargs):
        return self.run(*args, **kwargs)


@app.task(ignore_result=True, max_retries=3, soft_time_limit=10, autoretry_for=(IOError,), queue="io")
def ping():
    return "pong"


@app.task(base=LockedTask, lock_ttl=300)
def import_feed(url):
    return url
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery
from celery_once import QueueOnce

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task(base=QueueOnce, once={"graceful": True})  # an external base: its options are its own
def import_feed(url):
    return url
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery
from celery.signals import task_prerun

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@task_prerun.connect
def take_lock(sender=None, **kwargs):
    if getattr(sender, "exclusive", False):  # the project reads its own option
        return sender.name


@app.task(exclusive=True)
def rebuild_index():
    return None
'''
    ),
)

RULE = Rule(
    code="CEL020",
    name="unknown-task-option",
    summary="A task decorator keyword that is neither a Task attribute nor an option Celery handles.",
    what=(
        "Checks the keywords of `@app.task(...)` and `@shared_task(...)` against Celery's `Task` class "
        "attributes and the options its task decorator handles (read from the installed Celery), "
        "with a did-you-mean. Silent for keywords a project base class declares, for names the "
        "project's code reads as attributes, and, with an external or unknown base class, for "
        "anything but a near miss of one of Celery's own options."
    ),
    why=(
        "Celery never validates these keywords: each becomes a class attribute of the task. "
        "`ignore_results=True` stores every result anyway, `max_retry=3` keeps the default of 3... "
        "the setting the author meant is never applied, and nothing says so."
    ),
    fix="Spell the option as Celery does (`ignore_result`, `max_retries`, `soft_time_limit`).",
    invalid=CEL020_INVALID,
    valid=CEL020_VALID,
    check=check,
    autofix="unsafe",
)
