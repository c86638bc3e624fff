"""Celery's own settings table (celery.app.defaults) as ground truth for key names."""

from __future__ import annotations

from functools import lru_cache
from typing import Dict, FrozenSet, Optional, Tuple


@lru_cache(maxsize=1)
def _table() -> Tuple[FrozenSet[str], Dict[str, str]]:
    from celery.app import defaults

    return frozenset(defaults.DEFAULTS), dict(defaults._TO_NEW_KEY)


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
