"""What the model positively knows, and the paths through it that no clean fixture exercised.

A clean fixture stays clean when the model degrades to "unknown" (every rule is silent on
doubt), so these tests assert facts (a value and where it is set, a base class, an import
path) and, for each feature, a pair: the project where the feature must silence or raise a
finding, and the same project without it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

import pytest

from celerylint.cli import main
from tests.conftest import FIXTURES

Doc = Dict[str, Any]


# --- helpers -----------------------------------------------------------------------------------


def _inspect_fixture(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> List[Doc]:
    copy = tmp_path / name
    shutil.copytree(FIXTURES / name, copy, ignore=shutil.ignore_patterns("inspect.json", "__pycache__", ".celerylint-cache"))
    monkeypatch.chdir(copy)
    assert main(["inspect", "--format", "json", "."]) == 0
    projects: List[Doc] = json.loads(capsys.readouterr().out)["projects"]
    return projects


def _only(items: List[Doc], **match: Any) -> Doc:
    found = [item for item in items if all(item.get(key) == value for key, value in match.items())]
    assert len(found) == 1, (match, items)
    return found[0]


def _findings(capsys: pytest.CaptureFixture[str], *argv: str) -> Set[Tuple[str, int, str]]:
    """(path, line, code) of each finding of `celerylint argv` (paths as printed)."""
    main(["--format", "json", *argv])
    out = capsys.readouterr().out
    return {(Path(f["path"]).as_posix(), f["line"], f["code"]) for f in json.loads(out)}


def _codes(capsys: pytest.CaptureFixture[str], *argv: str) -> List[str]:
    return sorted(code for _, _, code in _findings(capsys, *argv))


# --- what the clean fixtures positively know -----------------------------------------------


def test_flask_celery_init_app_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (project,) = _inspect_fixture("flask_celery_init_app", tmp_path, monkeypatch, capsys)
    (app,) = project["apps"]
    assert app["created"] == "task_app/__init__.py:30" and app["scope"] == "celery_init_app"
    # config_from_object(app.config["CELERY"]) followed into the from_mapping(CELERY=dict(...)) call
    backend = app["settings"]["result_backend"]
    assert backend == {"state": "set", "value": "redis://localhost", "literal": True, "origin": "task_app/__init__.py:7", "raw_key": "result_backend"}
    assert app["settings"]["task_time_limit"]["value"] == 60
    assert app["settings"]["task_serializer"] == {"state": "not set"}
    assert app["task_cls"] == [{"class": "task_app.celery_init_app.FlaskTask", "origin": "task_app/__init__.py:30"}]
    (worker,) = project["workers"]
    assert (worker["spec"], worker["origin"], worker["explicit"]) == ("make_celery", "README.md:6", True)
    assert worker["entry_modules"] == ["make_celery"]
    imports = {item["module"]: item["via"] for item in worker["imports"]}
    assert imports["task_app.views"] == "imported by task_app.create_app()"
    assert imports["task_app.tasks"] == "imported from task_app.views"
    assert worker["runs"] == ["task_app:celery_init_app", "task_app:create_app"]
    assert worker["uncertain"] == []
    (seen,) = worker["apps"]
    assert seen["settings"]["result_backend"]["value"] == "redis://localhost"  # the worker runs the factory
    assert [task["name"] for task in project["tasks"]] == ["task_app.tasks.add", "task_app.tasks.vacuum"]
    for task in project["tasks"]:
        assert task["app"] is None and task["apps"] == ["task_app/__init__.py:30"]
        assert task["bases"] == ["task_app.celery_init_app.FlaskTask"]
        assert task["app_context_bases"] == ["task_app.celery_init_app.FlaskTask"]
        assert task["app_context"] is True
        assert task["registered"] == [{"worker": "make_celery", "state": "yes", "via": "imported from task_app.views", "reasons": []}]
        assert task["limits"]["time_limit"]["config"]["value"] == 60


def test_django_autodiscover_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (project,) = _inspect_fixture("django_autodiscover", tmp_path, monkeypatch, capsys)
    (app,) = project["apps"]
    assert app["autodiscover"] == ["mysite/celery.py:9"]
    backend = app["settings"]["result_backend"]
    assert (backend["value"], backend["origin"], backend["raw_key"]) == ("django-db", "mysite/settings.py:11", "CELERY_RESULT_BACKEND")
    assert app["settings"]["broker_url"]["state"] == "set" and app["settings"]["broker_url"]["literal"] is False
    (worker,) = project["workers"]
    assert worker["entry_modules"] == ["mysite", "mysite.celery"]
    imports = {item["module"]: item["via"] for item in worker["imports"]}
    assert imports["polls.tasks"] == imports["reports.tasks"] == "autodiscover_tasks() at mysite/celery.py:9"
    assert imports["mysite.urls"] == "the system checks (ROOT_URLCONF) at worker start"
    assert imports["exports.jobs"] == "imported from exports.api"
    registered = {task["name"]: task["registered"][0]["state"] for task in project["tasks"]}
    assert registered == {"exports.jobs.export_all": "yes", "polls.tasks.tally": "yes", "reports.tasks.weekly_digest": "yes"}


def test_context_task_patterns_are_known(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (project,) = _inspect_fixture("make_celery_contexttask", tmp_path, monkeypatch, capsys)
    (task,) = project["tasks"]
    assert project["apps"][0]["task_cls"] == [{"class": "celery_utils.make_celery.ContextTask", "origin": "celery_utils.py:20"}]
    assert task["bases"] == task["app_context_bases"] == ["celery_utils.make_celery.ContextTask"]
    assert task["app_context"] is True
    # conf.update(app.config): the old setting name, followed into the Flask config
    limit = task["limits"]["time_limit"]["config"]
    assert (limit["value"], limit["origin"], limit["raw_key"]) == (60, "app.py:7", "CELERYD_TASK_TIME_LIMIT")


def test_worker_pushes_context_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (project,) = _inspect_fixture("worker_pushes_context", tmp_path, monkeypatch, capsys)
    (app,) = project["apps"]
    # broker=Config.CELERY_BROKER_URL: the constant followed into config.py
    assert app["settings"]["broker_url"]["value"] == "redis://localhost:6379/0"
    (task,) = project["tasks"]
    assert task["bases"] == ["celery.Task"] and task["app_context_bases"] == []
    assert task["app_context"] is True  # app.app_context().push() in the worker's entry module


def test_factory_config_worker_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (project,) = _inspect_fixture("factory_config", tmp_path, monkeypatch, capsys)
    (app,) = project["apps"]
    assert app["settings"]["result_backend"]["origin"] == "proj/__init__.py:9"
    (worker,) = project["workers"]
    assert worker["entry_modules"] == ["proj"]
    (seen,) = worker["apps"]
    assert seen["settings"]["result_backend"] == {"state": "not set"}  # create_app() never runs in the worker
    assert seen["settings"]["include"]["value"] == ["proj.tasks"]


def test_celeryconfig_module_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (project,) = _inspect_fixture("celeryconfig_module", tmp_path, monkeypatch, capsys)
    settings = project["apps"][0]["settings"]
    assert settings["task_serializer"]["value"] == "json" and settings["task_serializer"]["origin"] == "celeryconfig.py:3"
    assert settings["imports"]["value"] == ["tasks"]
    (task,) = project["tasks"]
    assert task["serializer"]["config"]["value"] == "json"


def test_monorepo_holds_two_projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    projects = _inspect_fixture("monorepo", tmp_path, monkeypatch, capsys)
    assert [p["root"] for p in projects] == [".", "services/billing", "services/notify"]
    notify = projects[2]
    assert notify["apps"][0]["settings"]["include"]["value"] == ["app.tasks", "app.invoices"]
    assert _only(notify["tasks"], name="app.sms.text")["registered"][0]["state"] == "no"
    assert _only(notify["tasks"], name="app.invoices.remind")["registered"][0]["state"] == "yes"


# --- CEL005 honours task_serializer -------------------------------------------------------------

SERIALIZED_APP = '''from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60, include=["proj.tasks"])
app.conf.task_serializer = {serializer!r}
'''
SERIALIZED_TASKS = '''from proj.celery_app import app


@app.task
def tag(labels):
    return sorted(labels)


def view():
    tag.delay({"a", "b"})
'''


@pytest.mark.parametrize("serializer, expected", [("pickle", []), ("json", ["CEL005"])])
def test_cel005_honours_task_serializer(project, capsys: pytest.CaptureFixture[str], serializer: str, expected: List[str]) -> None:
    root = project(
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": SERIALIZED_APP.format(serializer=serializer),
            "proj/tasks.py": SERIALIZED_TASKS,
        }
    )
    assert _codes(capsys, str(root), "--select", "CEL005") == expected  # pickle itself is CEL012's


# --- CEL006: limits from a Task base class and from the worker command ---------------------------

LIMIT_BASE_APP = '''from celery import Celery, Task


class LimitedTask(Task):
{body}


app = Celery("proj", broker="redis://", backend="redis://", include=["proj.tasks"], task_cls=LimitedTask)
'''
PLAIN_TASKS = "from proj.celery_app import app\n\n\n@app.task\ndef job():\n    pass\n"


@pytest.mark.parametrize("body, expected", [("    time_limit = 300", []), ("    soft_time_limit = 60", []), ("    abstract = True", ["CEL006"])])
def test_cel006_limit_from_task_base_class(project, capsys: pytest.CaptureFixture[str], body: str, expected: List[str]) -> None:
    root = project(
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": LIMIT_BASE_APP.format(body=body),
            "proj/tasks.py": PLAIN_TASKS,
        }
    )
    assert _codes(capsys, str(root)) == expected


def test_cel006_limit_from_a_base_given_in_the_decorator(project, capsys: pytest.CaptureFixture[str]) -> None:
    files = {
        "Procfile": "worker: celery -A proj.celery_app worker\n",
        "proj/__init__.py": "",
        "proj/celery_app.py": 'from celery import Celery\n\napp = Celery("proj", broker="redis://", backend="redis://", include=["proj.tasks"])\n',
        "proj/base.py": "from celery import Task\n\n\nclass Bounded(Task):\n    time_limit = 30\n",
        "proj/tasks.py": "from proj.base import Bounded\nfrom proj.celery_app import app\n\n\n@app.task(base=Bounded)\ndef job():\n    pass\n",
    }
    assert _codes(capsys, str(project(files))) == []


@pytest.mark.parametrize(
    "command, expected",
    [
        ("worker: celery -A proj.celery_app worker --time-limit 300\n", []),
        ("worker: celery -A proj.celery_app worker --soft-time-limit=60 -l info\n", []),
        ("worker: celery -A proj.celery_app worker -l info\n", ["CEL006"]),
    ],
)
def test_cel006_limit_from_the_worker_command(project, capsys: pytest.CaptureFixture[str], command: str, expected: List[str]) -> None:
    root = project(
        {
            "Procfile": command,
            "proj/__init__.py": "",
            "proj/celery_app.py": 'from celery import Celery\n\napp = Celery("proj", broker="redis://", backend="redis://", include=["proj.tasks"])\n',
            "proj/tasks.py": PLAIN_TASKS,
        }
    )
    assert _codes(capsys, str(root)) == expected


# --- CEL001: a result backend from the deployment environment ------------------------------------

NO_BACKEND = {
    "proj/__init__.py": "",
    "proj/celery_app.py": 'from celery import Celery\n\napp = Celery("proj", broker="redis://", include=["proj.tasks"], task_time_limit=60)\n',
    "proj/tasks.py": PLAIN_TASKS,
    "proj/views.py": "from proj.tasks import job\n\n\ndef view():\n    return job.delay().get(timeout=5)\n",
}
COMPOSE = """services:
  worker:
    command: celery -A proj.celery_app worker
    environment:
      - CELERY_BROKER_URL=redis://redis
{backend}"""


@pytest.mark.parametrize(
    "deploy, expected",
    [
        ({"docker-compose.yml": COMPOSE.format(backend="      - CELERY_RESULT_BACKEND=redis://redis/1\n")}, []),
        ({"docker-compose.yml": COMPOSE.format(backend="      CELERY_RESULT_BACKEND: redis://redis/1\n").replace("      - CELERY_BROKER_URL=redis://redis\n", "")}, []),
        ({".env": "CELERY_RESULT_BACKEND=redis://redis/1\n", "Procfile": "worker: celery -A proj.celery_app worker\n"}, []),
        ({"docker-compose.yml": COMPOSE.format(backend="")}, ["CEL001"]),
    ],
    ids=["compose-list", "compose-mapping", "dotenv", "none"],
)
def test_cel001_backend_from_the_deployment_environment(project, capsys: pytest.CaptureFixture[str], deploy: Dict[str, str], expected: List[str]) -> None:
    root = project({**NO_BACKEND, **deploy})
    assert _codes(capsys, str(root)) == expected


# --- CEL003: current_app.app_context() provides no context --------------------------------------

CONTEXT_BASE_APP = '''from celery import Celery, Task
from flask import Flask, current_app

flask_app = Flask(__name__)


class ContextTask(Task):
    def __call__(self, *args, **kwargs):
        with {receiver}.app_context():
            return self.run(*args, **kwargs)


app = Celery("proj", broker="redis://", backend="redis://", include=["proj.tasks"], task_time_limit=60, task_cls=ContextTask)
'''
CONTEXT_TASKS = '''from flask import current_app

from proj.celery_app import app


@app.task
def admin_email():
    return current_app.config["ADMIN_EMAIL"]
'''


@pytest.mark.parametrize("receiver, expected", [("current_app", ["CEL003"]), ("flask_app", [])])
def test_cel003_current_app_app_context_pushes_nothing(project, capsys: pytest.CaptureFixture[str], receiver: str, expected: List[str]) -> None:
    root = project(
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": CONTEXT_BASE_APP.format(receiver=receiver),
            "proj/tasks.py": CONTEXT_TASKS,
        }
    )
    assert _codes(capsys, str(root)) == expected


# --- CEL002: modules imported by import_modules signal receivers ----------------------------------

SIGNAL_APP_DECORATOR = '''from celery import Celery
from celery.signals import import_modules

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@import_modules.connect
def load_jobs(sender=None, **kwargs):
    import proj.jobs  # noqa: F401
'''
SIGNAL_APP_CONNECT_CALL = '''from celery import Celery
from celery.signals import import_modules

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


def load_jobs(sender=None, **kwargs):
    import proj.jobs  # noqa: F401


import_modules.connect(load_jobs)
'''
NO_SIGNAL_APP = '''from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


def load_jobs(sender=None, **kwargs):
    import proj.jobs  # noqa: F401
'''


@pytest.mark.parametrize(
    "app, expected",
    [(SIGNAL_APP_DECORATOR, []), (SIGNAL_APP_CONNECT_CALL, []), (NO_SIGNAL_APP, ["CEL002"])],
    ids=["decorator", "connect-call", "no-receiver"],
)
def test_cel002_module_imported_by_an_import_modules_receiver(project, capsys: pytest.CaptureFixture[str], app: str, expected: List[str]) -> None:
    root = project(
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": app,
            "proj/jobs.py": PLAIN_TASKS,
        }
    )
    assert _codes(capsys, str(root)) == expected


# --- the facts cache -------------------------------------------------------------------------------


def test_cache_sees_an_edited_file(project, capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path_factory.mktemp("facts-cache")
    monkeypatch.setenv("CELERYLINT_CACHE_DIR", str(cache))
    root = project(
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": 'from celery import Celery\n\napp = Celery("proj", broker="redis://", backend="redis://", include=["proj.tasks"])\n',
            "proj/tasks.py": "from proj.celery_app import app\n\n\n@app.task(time_limit=30)\ndef job():\n    pass\n",
        }
    )
    monkeypatch.chdir(root)
    assert _findings(capsys, ".") == set()
    assert list(cache.iterdir()), "the first run wrote no cache"
    assert _findings(capsys, ".") == set()  # a warm run
    tasks = root / "proj" / "tasks.py"
    tasks.write_text(tasks.read_text().replace("(time_limit=30)", ""))  # only the content changes
    assert _findings(capsys, ".") == {("proj/tasks.py", 4, "CEL006")}


# --- file selection: --force-exclude and .gitignore ------------------------------------------------

EXCLUDED_PROJECT = {
    "pyproject.toml": '[project]\nname = "t"\n\n[tool.celerylint]\nextend-exclude = ["proj/legacy.py"]\n',
    "Procfile": "worker: celery -A proj.celery_app worker\n",
    "proj/__init__.py": "",
    "proj/celery_app.py": 'from celery import Celery\n\napp = Celery("proj", broker="redis://", backend="redis://", include=["proj.legacy"])\n',
    "proj/legacy.py": PLAIN_TASKS,
}


def test_force_exclude_drops_a_named_excluded_file(project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(EXCLUDED_PROJECT)
    monkeypatch.chdir(root)
    assert _codes(capsys, ".") == []  # excluded when the folder is named
    assert _findings(capsys, "proj/legacy.py") == {("proj/legacy.py", 4, "CEL006")}  # named: linted, as in ruff
    assert _findings(capsys, "--force-exclude", "proj/legacy.py") == set()


GITIGNORED_PROJECT = {
    ".gitignore": "proj/generated.py\n",
    "Procfile": "worker: celery -A proj.celery_app worker\n",
    "proj/__init__.py": "",
    "proj/celery_app.py": 'from celery import Celery\n\napp = Celery("proj", broker="redis://", backend="redis://", include=["proj.generated"])\n',
    "proj/generated.py": PLAIN_TASKS,
}


def test_no_respect_gitignore_lints_an_ignored_module(project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(GITIGNORED_PROJECT)
    monkeypatch.chdir(root)
    assert _codes(capsys, ".") == []
    assert _findings(capsys, "--no-respect-gitignore", ".") == {("proj/generated.py", 4, "CEL006")}
