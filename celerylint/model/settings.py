"""Celery's own settings table (celery.app.defaults) as ground truth for key names."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Dict, FrozenSet, Optional, Tuple


@lru_cache(maxsize=1)
def _table() -> Tuple[FrozenSet[str], Dict[str, str]]:
    """Read from celery.app.defaults once per Celery version; importing Celery costs ~0.5 s."""
    snapshot = _snapshot_path()
    try:
        data = json.loads(snapshot.read_text(encoding="utf-8"))
        return frozenset(data["names"]), dict(data["to_new"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    from celery.app import defaults

    names, to_new = frozenset(defaults.DEFAULTS), dict(defaults._TO_NEW_KEY)
    try:
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(json.dumps({"names": sorted(names), "to_new": to_new}), encoding="utf-8")
    except OSError:
        pass
    return names, to_new


def _snapshot_path() -> Path:
    from celerylint.cache import cache_dir

    try:
        version = metadata.version("celery")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return cache_dir() / f"celery-settings-{version}.json"


def new_names() -> FrozenSet[str]:
    return _table()[0]


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
