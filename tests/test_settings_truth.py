"""CEL011 against the installed Celery: what celerylint says about mixed setting names is what
Celery's own `detect_settings` does when a worker first reads its configuration.

Only our own snippets run here (Celery apps built from key sets and from the rule's cases),
never an analysed project's code.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest
from celery import Celery
from celery.exceptions import ImproperlyConfigured

from celerylint.config import Settings
from celerylint.engine import analyse
from celerylint.model.setting_names import tables
from celerylint.rules.base import Case
from celerylint.rules.settings import MIXED_RULE, SettingsView, _Mixing, mixing_losers
from tests.conftest import write_project

RENAMED = re.compile(r"^\s*(\S+)\s+->\s+\S+", re.MULTILINE)


def celery_rejects(keys: Set[str], prefix: Optional[str] = None, preconf: bool = False) -> Optional[Set[str]]:
    """The keys the installed Celery names in ImproperlyConfigured when an app whose config
    object (or, with ``preconf``, whose app.conf writes) holds ``keys`` is first read; None when
    it starts."""
    config: Dict[str, object] = {key: None for key in keys}
    app = Celery("truth", set_as_current=False, namespace=prefix)
    if preconf:
        app.conf.update(config)
    else:
        app.config_from_object(config)
    try:
        app.conf.timezone
    except ImproperlyConfigured as error:
        return set(RENAMED.findall(str(error)))
    return None


TABLE = tables()
NEW = ["broker_url", "result_backend", "task_time_limit", "result_expires", "worker_concurrency"]
OLD = ["BROKER_URL", "CELERY_RESULT_BACKEND", "CELERYD_TASK_TIME_LIMIT", "CELERY_TASK_RESULT_EXPIRES", "CELERYD_CONCURRENCY"]
OTHER = ["SECRET_KEY", "CELERY_BROKER_URL", "CELERY_TASK_TIME_LIMIT", "S3_BUCKET", "ENABLE_UTC", "enable_utc"]

KEY_SETS: List[Tuple[str, Set[str]]] = [
    ("one new one old: a tie, new wins", {"broker_url", "CELERY_RESULT_BACKEND"}),
    ("two new one old", {"broker_url", "result_backend", "CELERYD_TASK_TIME_LIMIT"}),
    ("one new two old", {"task_time_limit", "BROKER_URL", "CELERY_RESULT_BACKEND"}),
    ("both names of one setting", {"result_expires", "CELERY_TASK_RESULT_EXPIRES"}),
    ("both names plus an old one", {"result_expires", "CELERY_TASK_RESULT_EXPIRES", "BROKER_URL"}),
    ("all old", {"BROKER_URL", "CELERY_RESULT_BACKEND", "CELERYD_TASK_TIME_LIMIT"}),
    ("all new", {"broker_url", "result_backend"}),
    ("namespaced spellings are no old names", {"broker_url", "CELERY_BROKER_URL", "CELERY_TASK_TIME_LIMIT"}),
    ("old names without a CELERY prefix", {"broker_url", "ENABLE_UTC", "S3_BUCKET"}),
    ("Flask keys", {"SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "CELERY_RESULT_BACKEND", "BROKER_URL"}),
    ("nothing", set()),
]
random.seed(11)
for number in range(40):
    pool = NEW + OLD + OTHER
    KEY_SETS.append((f"random {number}", set(random.sample(pool, random.randint(1, 7)))))


@pytest.mark.parametrize("keys", [keys for _, keys in KEY_SETS], ids=[name for name, _ in KEY_SETS])
@pytest.mark.parametrize("preconf", [False, True], ids=["config-object", "conf-update"])
def test_mixing_follows_detect_settings(keys: Set[str], preconf: bool) -> None:
    losers, _ = mixing_losers(keys)
    assert celery_rejects(keys, preconf=preconf) == (losers or None)


@pytest.mark.parametrize("keys", [keys for _, keys in KEY_SETS[:5]], ids=[name for name, _ in KEY_SETS[:5]])
def test_a_namespace_rejects_nothing(keys: Set[str]) -> None:
    assert mixing_losers(keys, prefix="CELERY_")[0] == set()
    assert celery_rejects(keys, prefix="CELERY") is None


def _case_apps(case: Case, tmp_path: Path) -> List[Tuple[Celery, bool]]:
    """Each app of the case rebuilt from what celerylint read: its constructor keywords and
    namespace, and the keys of its config object (or of its app.conf writes); with whether
    celerylint reports a mix for it."""
    root = write_project(tmp_path / "case", case.files())
    project = analyse([root], Settings(use_cache=False), jobs=1).project
    view = SettingsView(project)
    mixing = _Mixing(view)
    built = []
    for app in project.apps:
        _, namespace = view.namespaces[app]
        sources = project.config_sources(app)
        constructor = {e.key: e.key for s in sources if s.kind == "constructor" for e in s.mapping_entries}
        keywords = {("broker" if k == "broker_url" else "backend" if k == "result_backend" else k): "x" for k in constructor}
        celery_app = Celery("case", set_as_current=False, namespace=namespace, **keywords)
        # Statements in branches (`if LEGACY:`) are left out: the rule speaks of the run where
        # they do not run; it reports only mixes that the unconditional statements make.
        def certain(entries):  # type: ignore[no-untyped-def]
            return {entry.key: None for entry in entries if not view.guarded(entry.origin, entry.key)}

        objects = [s for s in sources if s.kind == "object"]
        if objects:
            celery_app.config_from_object(certain(objects[0].mapping_entries))
        for source in sources:
            if source.kind == "write":
                celery_app.conf.update(certain(source.mapping_entries))
        entries = mixing.source_keys(app, None)
        reported = entries is not None and bool(mixing.rejected(entries)[0]) and not namespace
        built.append((celery_app, reported))
    return built


CASES = [(case, True) for case in MIXED_RULE.invalid] + [(case, False) for case in MIXED_RULE.valid]


@pytest.mark.parametrize(
    "case, invalid", CASES, ids=[f"{'invalid' if bad else 'valid'}-{n}" for n, (_, bad) in enumerate(CASES, 1)]
)
def test_every_cel011_case_runs_as_celery_says(case: Case, invalid: bool, tmp_path: Path) -> None:
    apps = _case_apps(case, tmp_path)
    assert apps
    for celery_app, reported in apps:
        assert reported == invalid
        if invalid:
            with pytest.raises(ImproperlyConfigured, match="Cannot mix new"):
                celery_app.conf.timezone
        else:
            celery_app.conf.timezone
