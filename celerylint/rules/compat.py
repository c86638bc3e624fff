"""CEL017: imports of the Celery modules and names that Celery 5 removed."""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from celerylint.facts.types import ImportFact, Loc
from celerylint.findings import Related
from celerylint.model.project import Project
from celerylint.rules.base import Report, Rule, case, related_at, report

REMOVED_MODULES = ("celery.task", "celery.decorators")
# What to use instead, by the name imported (celery.task and celery.decorators exported these).
REPLACEMENTS = {
    "task": "use @shared_task (from celery import shared_task) or @app.task",
    "periodic_task": "schedule it in beat_schedule or with app.add_periodic_task()",
    "PeriodicTask": "schedule it in beat_schedule or with app.add_periodic_task()",
    "Task": "from celery import Task",
    "crontab": "from celery.schedules import crontab",
    "schedule": "from celery.schedules import schedule",
    "TaskSet": "use celery.group",
    "subtask": "use celery.signature",
}
MODULE_REPLACEMENTS = {
    "celery.task.control": "use app.control (app.control.inspect(), app.control.revoke())",
    "celery.task.schedules": "from celery.schedules import crontab",
    "celery.task.sets": "use celery.group",
    "celery.task.http": "make the HTTP call in a task of your own",
}
DEFAULT_REPLACEMENT = "import shared_task and Task from celery"


def _removed_module(module: str) -> Optional[str]:
    for removed in REMOVED_MODULES:
        if module == removed or module.startswith(removed + "."):
            return removed
    return None


def removed_import(fact: ImportFact) -> Optional[Tuple[str, str]]:
    """(what, replacement) when the import fails on Celery 5 or later, else None."""
    if fact.module == "celery" and fact.is_from:
        for name in fact.names:
            if name in ("task", "decorators", "periodic_task"):
                return f"celery.{name}", REPLACEMENTS.get(name, DEFAULT_REPLACEMENT)
        return None
    if _removed_module(fact.module) is None:
        return None
    if fact.module in MODULE_REPLACEMENTS:
        return fact.module, MODULE_REPLACEMENTS[fact.module]
    for name in fact.names:
        if name in REPLACEMENTS:
            return f"{fact.module}.{name}", REPLACEMENTS[name]
    return fact.module, DEFAULT_REPLACEMENT


def _declared(project: Project) -> Tuple[Optional[Tuple[int, ...]], List[Related]]:
    """The declared Celery version (None: unknown, read as the latest) and where it is declared."""
    version = project.deploy.version("celery")
    for name, text, where in project.deploy.versions:
        if name == "celery":
            return version, [related_at(where.rel, where.line, where.col, f"Celery {text} is declared here")]
    return version, []


def check(project: Project) -> Iterator[Report]:
    version, related = _declared(project)
    if version is not None and version[:1] < (5,):
        return
    for info in sorted(project.index.modules(), key=lambda m: m.rel):
        for fact in info.facts.imports:
            if fact.conditional or fact.line < 1:
                continue  # a compatibility shim, `if TYPE_CHECKING:`, or an import made by a call
            removed = removed_import(fact)
            if removed is None:
                continue
            what, replacement = removed
            yield report(
                info.rel, Loc(fact.line, 1, fact.line, 1),
                f"{what} was removed in Celery 5: importing this module raises ImportError "
                "(a worker that loads it does not start)",
                related,
                hint=f"Instead: {replacement}.",
            )


CEL017_INVALID = (
    case(
        r'''
# --- requirements.txt
celery==5.3.6
# --- proj/__init__.py
# --- proj/tasks.py
from celery.task import periodic_task, task  # expect: CEL017
from celery.schedules import crontab


@task
def sync():
    return 1


@periodic_task(run_every=crontab(minute=0))
def hourly():
    return 2
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/admin.py
from celery.task.control import revoke  # expect: CEL017
import celery.decorators  # expect: CEL017


def cancel(task_id):
    revoke(task_id)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery.task import Task, task as celery_task  # expect: CEL017
from celery.task.schedules import crontab  # expect: CEL017


class BaseTask(Task):
    max_retries = 3


@celery_task(base=BaseTask)
def sync():
    return crontab(minute=0)
'''
    ),
)
CEL017_VALID = (
    case(
        r'''
# --- requirements.txt
celery==5.3.6
# --- proj/__init__.py
# --- proj/tasks.py
from celery import shared_task
from celery.schedules import crontab

try:
    from celery.task import periodic_task  # Celery 4 only; the except branch covers 5
except ImportError:
    periodic_task = None


@shared_task
def sync():
    return 1
'''
    ),
    case(
        r'''
# --- requirements.txt
celery==4.4.7
# --- proj/__init__.py
# --- proj/tasks.py
from celery.task import task


@task
def sync():
    return 1
'''
    ),
)


RULE = Rule(
    code="CEL017",
    name="removed-celery-api",
    summary="An import of a module or name that Celery 5 removed (celery.task, celery.decorators, periodic_task).",
    what=(
        "Reports `import celery.task`, `from celery.task import ...` (and its submodules "
        "`celery.task.control`, `celery.task.schedules`, `celery.task.sets`...), `celery.decorators`, "
        "and `from celery import task, periodic_task, decorators`, when the project's declared Celery "
        "version is 5 or later (no declared version is read as the latest release). Silent for an "
        "import inside a `try` whose `except` catches ImportError, or under an `if` (a version check, "
        "`if TYPE_CHECKING:`)."
    ),
    why=(
        "Celery 5 deleted these compatibility modules: the import raises ImportError "
        "(`No module named 'celery.task'`), so the module, and a worker that imports it, fails to start."
    ),
    fix=(
        "`from celery import shared_task, Task`; `from celery.schedules import crontab`; periodic tasks "
        "in `beat_schedule` or `app.add_periodic_task()`; `app.control` for revoke and inspect."
    ),
    invalid=CEL017_INVALID,
    valid=CEL017_VALID,
    check=check,
    autofix="safe",
)
