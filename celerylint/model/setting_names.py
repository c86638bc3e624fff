"""Celery's own settings table (celery.app.defaults) as ground truth for key names."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, Optional, Tuple

from celerylint.groundtruth import import_installed, installed_version


@lru_cache(maxsize=1)
def _table() -> Tuple[FrozenSet[str], Dict[str, str]]:
    """Read from celery.app.defaults once per Celery version; importing Celery costs ~0.5 s."""
    snapshot = _snapshot_path()
    try:
        # A regular file only: a FIFO or a link to a device placed there must not block or flood.
        if snapshot is not None and snapshot.is_file() and snapshot.stat().st_size < 1_000_000:
            data = json.loads(snapshot.read_text(encoding="utf-8"))
            names, to_new = data["names"], data["to_new"]
            if all(isinstance(n, str) for n in names) and all(isinstance(k, str) and isinstance(v, str) for k, v in to_new.items()):
                return frozenset(names), dict(to_new)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    defaults = import_installed("celery.app.defaults")
    # SETTING_KEYS is public; the old-name table has no public form (Celery builds it from
    # NAMESPACES with a private helper), so the private _TO_NEW_KEY is the ground truth here.
    names, to_new = frozenset(defaults.SETTING_KEYS), dict(defaults._TO_NEW_KEY)
    if snapshot is not None:
        try:
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            snapshot.write_text(json.dumps({"names": sorted(names), "to_new": to_new}), encoding="utf-8")
        except OSError:
            pass
    return names, to_new


def _snapshot_path() -> Optional[Path]:
    from celerylint.cache import cache_dir

    folder = cache_dir()
    return folder / f"celery-settings-{installed_version('celery')}.json" if folder is not None else None



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
