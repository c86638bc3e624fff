"""Celery's own settings table (celery.app.defaults) as ground truth for key names."""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, Optional, Set, Tuple

from celerylint.groundtruth import import_installed, installed_version


@dataclass(frozen=True)
class CeleryTables:
    """What the installed Celery and kombu say about configuration keys."""

    names: FrozenSet[str]  # new-style setting names (celery.app.defaults.SETTING_KEYS)
    to_new: Dict[str, str]  # old upper-case name -> new name (_TO_NEW_KEY)
    constructor: FrozenSet[str]  # Celery.__init__'s own parameters: not settings
    pickle: FrozenSet[str]  # pickle's serializer name and content type (kombu's registry)
    # Keys Celery's code reads from app.conf that its table does not declare
    # (`conf.get('result_backend_thread_safe', False)` in celery/backends/base.py).
    undeclared: FrozenSet[str] = frozenset()
    task_options: FrozenSet[str] = frozenset()  # Task class options (max_retries, rate_limit...)

    @cached_property
    def to_old(self) -> Dict[str, str]:
        return {new: old for old, new in self.to_new.items()}


@lru_cache(maxsize=1)
def tables() -> CeleryTables:
    """Read from Celery once per Celery version; importing Celery costs ~0.5 s."""
    snapshot = _snapshot_path()
    try:
        # A regular file only: a FIFO or a link to a device placed there must not block or flood.
        if snapshot is not None and snapshot.is_file() and snapshot.stat().st_size < 1_000_000:
            data = json.loads(snapshot.read_text(encoding="utf-8"))
            lists = [data["names"], data["constructor"], data["pickle"], data["undeclared"], data["task_options"]]
            to_new = data["to_new"]
            if all(isinstance(n, str) for items in lists for n in items) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in to_new.items()
            ):
                sets = [frozenset(items) for items in lists]
                return CeleryTables(sets[0], dict(to_new), sets[1], sets[2], sets[3], sets[4])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    defaults = import_installed("celery.app.defaults")
    base = import_installed("celery.app.base")
    serialization = import_installed("kombu.serialization")
    # SETTING_KEYS is public; the old-name table has no public form (Celery builds it from
    # NAMESPACES with a private helper), so the private _TO_NEW_KEY is the ground truth here.
    parameters = inspect.signature(base.Celery.__init__).parameters
    constructor = frozenset(name for name, item in parameters.items() if item.kind is not item.VAR_KEYWORD and name != "self")
    pickle = frozenset({"pickle", str(serialization.registry.name_to_type.get("pickle", "application/x-python-serialize"))})
    names = frozenset(defaults.SETTING_KEYS)
    undeclared = _undeclared_reads(Path(str(import_installed("celery").__file__)).parent) - names
    task = import_installed("celery.app.task").Task
    task_options = frozenset(
        name
        for name, value in vars(task).items()
        if name.islower() and not name.startswith("_") and (value is None or isinstance(value, (bool, int, float, str)))
    ) - {"name", "abstract", "trail"}
    found = CeleryTables(names, dict(defaults._TO_NEW_KEY), constructor, pickle, undeclared, task_options)
    if snapshot is not None:
        try:
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            data = {
                "names": sorted(found.names),
                "to_new": found.to_new,
                "constructor": sorted(constructor),
                "pickle": sorted(pickle),
                "undeclared": sorted(undeclared),
                "task_options": sorted(task_options),
            }
            snapshot.write_text(json.dumps(data), encoding="utf-8")
        except OSError:
            pass
    return found


CONF_GET = re.compile(r"""\b_?conf\.get\(\s*['"]([a-z][a-z0-9_]*)['"]""")


def _undeclared_reads(package: Path) -> FrozenSet[str]:
    """Setting names Celery's own source reads with `conf.get('name', ...)`."""
    found: Set[str] = set()
    for path in package.rglob("*.py"):
        try:
            found.update(CONF_GET.findall(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return frozenset(found)


def _table() -> Tuple[FrozenSet[str], Dict[str, str]]:
    found = tables()
    return found.names, found.to_new


def _snapshot_path() -> Optional[Path]:
    from celerylint.cache import cache_dir

    folder = cache_dir()
    name = f"celery-settings-{installed_version('celery')}-kombu-{installed_version('kombu')}.json"
    return folder / name if folder is not None else None



def canonical_setting(key: str, namespace: Optional[str]) -> Optional[str]:
    """The new-style setting name a config key sets, or None if Celery ignores it.

    With a namespace ("CELERY"), ``CELERY_TASK_TIME_LIMIT`` means task_time_limit;
    the plain new name and the old name are read too (celery/utils/collections.py).
    """
    names, to_new = _table()
    if namespace:
        prefix = namespace + "_"
        matched = key.startswith(prefix) if prefix.isupper() else key.lower().startswith(prefix.lower())
        if matched:
            rest = key[len(prefix):].lower()
            if rest in names:
                return rest
    if key in names:
        return key
    return to_new.get(key)


RESULT_BACKEND = "result_backend"
BROKER_URL = "broker_url"
TIME_LIMITS = ("task_time_limit", "task_soft_time_limit")
TASK_SERIALIZER = "task_serializer"
