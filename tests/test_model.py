"""The project model: module names, worker commands, configuration with provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from celerylint.config import Settings
from celerylint.engine import analyse, run
from celerylint.model.deploy import scan_deploy_files
from celerylint.model.setting_names import canonical_setting


def _project(project, files):  # type: ignore[no-untyped-def]
    root = project(files)
    return analyse([root], Settings(use_cache=False), jobs=1).project


@pytest.mark.parametrize(
    ("key", "namespace", "expected"),
    [
        ("result_backend", None, "result_backend"),
        ("CELERY_RESULT_BACKEND", None, "result_backend"),  # the old name
        ("CELERY_BROKER_URL", None, None),  # not a setting without a namespace
        ("BROKER_URL", None, "broker_url"),
        ("CELERYD_TASK_TIME_LIMIT", None, "task_time_limit"),
        ("CELERY_TASK_TIME_LIMIT", None, None),
        ("CELERY_TASK_TIME_LIMIT", "CELERY", "task_time_limit"),
        ("CELERY_BROKER_URL", "CELERY", "broker_url"),
        ("broker_url", "CELERY", "broker_url"),
        ("SECRET_KEY", None, None),
    ],
)
def test_setting_names_follow_celery_defaults(key: str, namespace, expected) -> None:  # type: ignore[no-untyped-def]
    assert canonical_setting(key, namespace) == expected


def test_module_names_src_layout_and_namespace_packages(project) -> None:  # type: ignore[no-untyped-def]
    model = _project(project, {"src/pkg/__init__.py": "", "src/pkg/mod.py": "", "scripts/tool.py": "", "nsp/sub/m.py": ""})
    names = set(model.index.by_name)
    assert {"pkg", "pkg.mod", "tool", "m"} <= names
    assert model.index.get("nsp.sub.m") is model.index.get("m")
    assert model.index.get("celery") is None


LOCAL_CELERY_MODULE = (
    "from celery import Celery\n"
    "app = Celery('proj', broker='redis://', backend='rpc://')\n\n\n"
    "@app.task\n"
    "def job():\n"
    "    pass\n"
)


@pytest.mark.parametrize("rel", ["celery.py", "worker/celery.py"])  # top-level module named celery (no __init__.py above)
def test_local_celery_module_does_not_capture_the_package(project, rel: str) -> None:  # type: ignore[no-untyped-def]
    """A project module whose own name is ``celery``, as `celery -A celery worker` finds it:
    its `from celery import Celery` means the installed package, not itself."""
    root = project({rel: LOCAL_CELERY_MODULE})
    analysis = analyse([root], Settings(use_cache=False), jobs=1)
    model = analysis.project
    # Captured, `Celery` would be this module's own import of itself: no app, no task, no finding.
    assert [definition.module.rel for definition in model.apps.values()] == [rel]
    assert [task.function.name for task in model.tasks] == ["job"]
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    assert [(f.path, f.line, f.code) for f in findings] == [(rel, 5, "CEL006")]  # the task has no time limit
    assert "celery" in model.index.by_name  # the file is indexed under the name that could capture
    assert model.index.get("celery") is None  # ...but absolute `celery` imports never resolve to it


def test_celery_module_inside_a_package_is_the_app(project) -> None:  # type: ignore[no-untyped-def]
    model = _project(
        project,
        {
            "proj/__init__.py": "",
            "proj/celery.py": "from celery import Celery\napp = Celery('proj', backend='rpc://')\n",
        },
    )
    assert [definition.module.name for definition in model.apps.values()] == ["proj.celery"]


def test_worker_commands_in_deploy_files(tmp_path: Path) -> None:
    files = {
        "Procfile": "worker: celery -A proj.app worker -l info --time-limit=300\n",
        "docker-compose.yml": "services:\n  w:\n    command: [\"celery\", \"--app=other.celery:app\", \"worker\"]\n    environment:\n      - CELERY_RESULT_BACKEND=redis://r\n",
        "Makefile": "worker:\n\tcelery \\\n\t  -A third worker\n",
        "pyproject.toml": '[tool.poe.tasks]\nworker.cmd = "celery --app fourth.celeryconf:app worker -E"\n',
        "broken.yml": "{{{ not yaml: [\n celery worker -A\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    facts = scan_deploy_files(sorted(tmp_path.iterdir()), tmp_path)
    apps = {w.app: w for w in facts.workers}
    assert set(apps) == {"proj.app", "other.celery:app", "third", "fourth.celeryconf:app"}
    assert "--time-limit" in apps["proj.app"].options
    assert [name for name, _ in facts.env_settings] == ["CELERY_RESULT_BACKEND"]


def test_config_provenance_and_precedence(project) -> None:  # type: ignore[no-untyped-def]
    model = _project(
        project,
        {
            "proj/__init__.py": "",
            "proj/settings.py": "result_backend = 'redis://from-module'\ntask_time_limit = 5\n",
            "proj/app.py": (
                "from celery import Celery\n"
                "app = Celery('p', backend='redis://from-ctor')\n"
                "app.config_from_object('proj.settings')\n"
            ),
        },
    )
    (app,) = model.apps
    state, backend = model.config(app).lookup("result_backend")
    assert state == "set" and backend is not None
    assert backend.origin.rel == "proj/app.py"  # constructor keywords beat config_from_object
    state, limit = model.config(app).lookup("task_time_limit")
    assert state == "set" and limit is not None and limit.origin.rel == "proj/settings.py"


def test_unresolvable_config_is_unknown_not_missing(project) -> None:  # type: ignore[no-untyped-def]
    model = _project(
        project,
        {"proj/__init__.py": "", "proj/app.py": "import os\nfrom celery import Celery\napp = Celery('p')\napp.config_from_envvar('CELERY_CONFIG')\n"},
    )
    (app,) = model.apps
    assert model.config(app).lookup("result_backend") == ("unknown", None)


def test_namespaced_flask_config(project) -> None:  # type: ignore[no-untyped-def]
    model = _project(
        project,
        {
            "proj/__init__.py": (
                "from celery import Celery\nfrom flask import Flask\n\n"
                "def create_app():\n"
                "    app = Flask(__name__)\n"
                "    app.config['CELERY_RESULT_BACKEND'] = 'redis://'\n"
                "    app.config.from_mapping(CELERY_TASK_TIME_LIMIT=30)\n"
                "    celery = Celery(app.import_name)\n"
                "    celery.config_from_object(app.config, namespace='CELERY')\n"
                "    return celery\n"
            ),
        },
    )
    (app,) = model.apps
    assert model.config(app).lookup("task_time_limit")[0] == "set"
    assert model.config(app).lookup("result_backend")[0] == "set"


@pytest.mark.parametrize(
    "settings_source",
    [
        "class Base:\n    CELERY_TASK_TIME_LIMIT = 60\n\nBase.load_settings(__name__)\n",  # readthedocs.org style
        "globals().update({'CELERY_TASK_TIME_LIMIT': 60})\n",
        "try:\n    from .local_settings import *\nexcept ImportError:\n    pass\n",  # not committed
    ],
)
def test_settings_written_at_run_time_are_unknown(project, settings_source: str) -> None:  # type: ignore[no-untyped-def]
    model = _project(
        project,
        {
            "mysite/__init__.py": "",
            "mysite/settings.py": settings_source,
            "mysite/celery.py": (
                "import os\nfrom celery import Celery\n"
                "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
                "app = Celery('mysite')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n"
            ),
        },
    )
    (app,) = model.apps
    assert model.config(app).lookup("task_time_limit") == ("unknown", None)


def test_config_class_in_a_module_without_celery_words(project) -> None:  # type: ignore[no-untyped-def]
    """Only cheaply scanned (no Celery/Flask tokens), yet its settings still count."""
    model = _project(
        project,
        {
            "settings.py": "class Prod:\n    task_annotations = {'*': {'rate_limit': '10/s'}}\n    BROKER_URL = 'redis://'\n",
            "app.py": "from celery import Celery\napp = Celery('p')\napp.config_from_object('settings.Prod')\n",
        },
    )
    (app,) = model.apps
    assert model.config(app).lookup("task_annotations")[0] == "set"
    assert model.config(app).lookup("broker_url")[0] == "set"


def test_a_closure_s_places_follow_what_it_holds() -> None:
    """places() is kept between calls (rules ask for it per task) but never goes stale."""
    from celerylint.model.closure import Closure

    closure = Closure()
    closure.modules.add("proj.tasks")
    first = closure.places()
    assert first == {("proj.tasks", "")} and closure.places() is first
    closure.functions.add(("proj.tasks", "job"))
    assert closure.places() == {("proj.tasks", ""), ("proj.tasks", "job")}
    closure.modules.add("proj.app")
    assert ("proj.app", "") in closure.places()


def test_task_classes_are_found_through_shared_and_cyclic_hierarchies(tmp_path: Path) -> None:
    """A Task subclass is registered under module.ClassName however deep its base; a cycle a
    static reading makes (a class named before it is bound) decides nothing for the classes
    that meet it, whichever is asked first."""
    root = tmp_path / "p"
    for rel, text in {
        "proj/__init__.py": "",
        "proj/base.py": (
            "from celery import Task\n\n\n"
            "class Loop(Loop2, Task):\n    pass\n\n\n"
            "class Loop2(Loop):\n    pass\n\n\n"
            "class Base(Task):\n    pass\n\n\n"
            "class Deep(Base):\n    pass\n\n\n"
            "class Plain(object):\n    pass\n\n\n"
            "class Deeper(Plain, Deep):\n    pass\n"
        ),
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    names = analyse([root], Settings(use_cache=False)).project.found_names.tasks
    assert {name for name in names if name.startswith("proj.base.")} == {
        "proj.base.Loop", "proj.base.Loop2", "proj.base.Base", "proj.base.Deep", "proj.base.Deeper"
    }
