"""Celery's own task option names as ground truth: what a task decorator accepts and what
`apply_async` takes as execution options (read from the installed Celery, never the project)."""

from __future__ import annotations

import inspect
import json
import re
from functools import lru_cache
from pathlib import Path
from types import CodeType
from typing import Dict, FrozenSet, List, Optional

from celerylint.groundtruth import import_installed, installed_version

# An entry of the "Arguments:" section of apply_async's docstring: `countdown (float): ...`.
DOC_ARGUMENT = re.compile(r"^\s+(?P<name>[a-z_]+) \([^)]*\):", re.MULTILINE)
# What add_autoretry_behaviour reads: `options.get('retry_kwargs', ...)`, `hasattr(task, '...')`.
AUTORETRY_OPTION = re.compile(r"(?:options\.get\(|attr\(task,)\s*'(?P<name>\w+)'")
# Not options at all: the task's own arguments.
TASK_ARGUMENTS = frozenset({"args", "kwargs", "options"})


def _read() -> Dict[str, List[str]]:
    """Celery's tables, imported once per Celery version (importing Celery costs ~0.5 s)."""
    task_module = import_installed("celery.app.task")
    base_module = import_installed("celery.app.base")
    autoretry = import_installed("celery.app.autoretry")
    task_cls = task_module.Task
    celery_cls = base_module.Celery
    # Decorator options: the parameters of Celery.task's inner factory (shared, filter, lazy)
    # and of _task_from_fun (name, base, bind, pydantic...); the rest become class attributes.
    decorator: List[str] = []
    for const in celery_cls.task.__code__.co_consts:
        if isinstance(const, CodeType) and const.co_name == "inner_create_task_cls":
            decorator.extend(const.co_varnames[: const.co_argcount])
    decorator.extend(
        name for name, param in inspect.signature(celery_cls._task_from_fun).parameters.items()
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY) and name not in ("self", "fun")
    )
    # Options add_autoretry_behaviour reads (autoretry_for, retry_kwargs, retry_backoff, ...).
    decorator.extend(AUTORETRY_OPTION.findall(inspect.getsource(autoretry.add_autoretry_behaviour)))
    # Publishing options read from the task class (queue, routing_key, exchange, ...).
    decorator.extend(_closure_strings(task_module.extract_exec_options))
    attributes = [name for name in dir(task_cls) if not name.startswith("__")]
    apply_async = task_cls.apply_async
    execution = [
        name for name, param in inspect.signature(apply_async).parameters.items()
        if param.kind == param.POSITIONAL_OR_KEYWORD and name not in ("self", *TASK_ARGUMENTS)
    ]
    execution.extend(DOC_ARGUMENT.findall(apply_async.__doc__ or ""))
    return {
        "decorator": sorted(set(decorator)),
        "attributes": sorted(set(attributes)),
        "execution": sorted(set(execution) - TASK_ARGUMENTS),
    }


def _closure_strings(func: object) -> List[str]:
    """The names a `mattrgetter(*names)` closure holds."""
    found: List[str] = []
    for cell in getattr(func, "__closure__", None) or ():
        contents = cell.cell_contents
        if isinstance(contents, tuple) and all(isinstance(item, str) for item in contents):
            found.extend(contents)
    return found


@lru_cache(maxsize=1)
def _tables() -> Dict[str, FrozenSet[str]]:
    snapshot = _snapshot_path()
    try:
        # A regular file only: a FIFO or a link to a device placed there must not block or flood.
        if snapshot is not None and snapshot.is_file() and snapshot.stat().st_size < 1_000_000:
            data = json.loads(snapshot.read_text(encoding="utf-8"))
            if set(data) == {"decorator", "attributes", "execution"} and all(
                isinstance(name, str) for names in data.values() for name in names
            ):
                return {key: frozenset(names) for key, names in data.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    data = _read()
    if snapshot is not None:
        try:
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            snapshot.write_text(json.dumps(data), encoding="utf-8")
        except OSError:
            pass
    return {key: frozenset(names) for key, names in data.items()}


def _snapshot_path() -> Optional[Path]:
    from celerylint.cache import cache_dir

    folder = cache_dir()
    return folder / f"celery-task-options-{installed_version('celery')}.json" if folder is not None else None


def decorator_options() -> FrozenSet[str]:
    """Keywords `@app.task(...)` itself handles (name, base, bind, shared, autoretry_for, queue...)."""
    return _tables()["decorator"]


def task_attributes() -> FrozenSet[str]:
    """Attributes of celery's Task class: a decorator keyword of that name overrides one."""
    return _tables()["attributes"]


def execution_options() -> FrozenSet[str]:
    """What apply_async takes besides the task's own arguments (countdown, eta, queue...)."""
    return _tables()["execution"]
