"""Task names and autodiscovery as the model sees them, checked against the installed Celery.

Each test writes a small project of our own, asks the model, then imports the same project in a
fresh interpreter with Celery and compares: the names `app.tasks` holds after finalize, the
modules a worker's `import_default_modules()` imports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

from celerylint.config import Settings
from celerylint.engine import analyse
from celerylint.model.project import Project
from tests.conftest import FIXTURES

NAMED_PROJECT: Dict[str, str] = {
    "proj/__init__.py": "",
    "proj/celery_app.py": (
        "from celery import Celery\n\n"
        "app = Celery('proj', broker='memory://', backend='cache+memory://', task_time_limit=60)\n"
    ),
    # No __init__.py in importers/ nor in asana/: still proj.importers.asana.tasks.
    "proj/importers/asana/tasks.py": (
        "from proj.celery_app import app\n\n\n"
        "@app.task\n"
        "def import_project(project_id):\n"
        "    return project_id\n"
    ),
    "proj/jobs.py": (
        "import functools\n\n"
        "from celery import shared_task\n\n"
        "from proj.celery_app import app\n\n"
        "retrying = shared_task(acks_late=True)\n\n\n"
        "def periodic(**options):\n"
        "    return app.task(bind=True, **options)\n\n\n"
        "def job(name, **options):\n"
        "    return app.task(name=name, bind=True, **options)\n\n\n"
        "@job('jobs.nightly', queue='low')\n"
        "def nightly(self):\n"
        "    return self\n\n\n"
        "@retrying\n"
        "def resend(message_id):\n"
        "    return message_id\n\n\n"
        "@app.task(name=__name__ + '.renamed')\n"
        "def original(x):\n"
        "    return x\n\n\n"
        "@app.task(name='emails.send')\n"
        "def send(address):\n"
        "    return address\n\n\n"
        "@periodic(queue='low')\n"
        "def rebuild(self):\n"
        "    return self\n\n\n"
        "def cleanup(days):\n"
        "    return days\n\n\n"
        "cleanup_task = app.task(cleanup, time_limit=30)\n\n\n"
        "queued_task = functools.partial(app.task, queue='low')\n\n\n"
        "@queued_task(name='jobs.queued')\n"
        "def queued(x):\n"
        "    return x\n\n\n"
        "class retrying_task:\n"
        "    def __init__(self, **options):\n"
        "        self.options = options\n\n"
        "    def __call__(self, func):\n"
        "        return shared_task(**self.options)(func)\n\n\n"
        "@retrying_task(name='jobs.retried', max_retries=3)\n"
        "def retried(x):\n"
        "    return x\n\n\n"
        "class Holder:\n"
        "    @staticmethod\n"
        "    @app.task\n"
        "    def method_task():\n"
        "        return 1\n"
    ),
    "proj/script.py": (
        "from celery import Celery\n\n"
        "scripted = Celery('scripted', broker='memory://', backend='cache+memory://')\n\n\n"
        "@scripted.task\n"
        "def job():\n"
        "    return 1\n\n\n"
        "if __name__ == '__main__':\n"
        "    scripted.finalize()\n"
        "    print(sorted(name for name in scripted.tasks if not name.startswith('celery.')))\n"
    ),
}


def _write(root: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    return root


def _model(root: Path) -> Project:
    project = analyse([root], Settings(use_cache=False), jobs=1).project
    assert project is not None
    return project


def _run(root: Path, code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, *args] if args else [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_task_names_are_the_names_celery_registers(tmp_path: Path) -> None:
    root = _write(tmp_path / "named", NAMED_PROJECT)
    project = _model(root)
    celery_names = json.loads(_run(root, (
        "import json, importlib\n"
        "from proj.celery_app import app\n"
        "for name in ('proj.importers.asana.tasks', 'proj.jobs'):\n"
        "    importlib.import_module(name)\n"
        "app.finalize()\n"
        "print(json.dumps(sorted(n for n in app.tasks if not n.startswith('celery.'))))\n"
    )))
    assert celery_names == [
        "emails.send", "jobs.nightly", "jobs.queued", "jobs.retried", "proj.importers.asana.tasks.import_project", "proj.jobs.cleanup", "proj.jobs.method_task",
        "proj.jobs.rebuild", "proj.jobs.renamed", "proj.jobs.resend",
    ]
    names = project.task_names
    assert names.known
    assert set(celery_names) <= set(names.tasks)
    by_function = {task.function.name: task for task in project.tasks}
    assert {name: by_function[name].name for name in ("import_project", "resend", "original", "send", "cleanup", "method_task", "retried", "nightly")} == {
        "import_project": "proj.importers.asana.tasks.import_project",
        "resend": "proj.jobs.resend",
        "original": "proj.jobs.renamed",
        "send": "emails.send",
        "cleanup": "proj.jobs.cleanup",
        "method_task": "proj.jobs.method_task",
        "retried": "jobs.retried",
        "nightly": "jobs.nightly",
    }
    # The options a task is made with, wherever they are written.
    assert by_function["resend"].option("acks_late") is not None
    assert by_function["cleanup"].option("time_limit") is not None
    # A project decorator may pass any option: none of them is known to be absent.
    assert by_function["rebuild"].option("time_limit") is not None and not by_function["rebuild"].options_complete
    assert by_function["send"].option("time_limit") is None
    queued = by_function["queued"]
    assert queued.name == "jobs.queued" and queued.options_complete and queued.option("queue") is not None


def test_a_module_run_as_a_script_names_its_tasks_after_the_app(tmp_path: Path) -> None:
    root = _write(tmp_path / "named", NAMED_PROJECT)
    assert _run(root, "", "proj/script.py") == "['scripted.job']"
    project = _model(root)
    job = next(task for task in project.tasks if task.function.name == "job")
    assert job.names == ("proj.script.job", "scripted.job")
    assert {"proj.script.job", "scripted.job"} <= set(project.task_names.tasks)


def test_autodiscovery_imports_what_celery_imports(tmp_path: Path) -> None:
    """The worker closure's modules are those Celery imports at worker start (fixture
    autodiscover_related_modules: AppConfig class entries, missing submodules, plain modules,
    related_name=None, callables)."""
    root = tmp_path / "autodiscover"
    shutil.copytree(FIXTURES / "autodiscover_related_modules", root)
    imported = json.loads(_run(root, (
        "import json, sys\n"
        "from proj.celery_app import app\n"
        "app.loader.import_default_modules()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'proj' or m.startswith('proj.'))))\n"
    )))
    project = _model(root)
    (worker,) = project.workers
    assert not worker.closure.uncertain
    assert sorted(worker.closure.modules) == imported
    seen: Set[str] = set(imported)
    expected: List[str] = ["proj.billing.jobs", "proj.extra.jobs", "proj.plain", "proj.quiet", "proj.shop.apps"]
    assert set(expected) <= seen and not {"proj.shop.jobs", "proj.quiet.jobs", "proj.unlisted.jobs"} & seen


def test_a_worker_imports_only_what_its_own_app_lists(tmp_path: Path) -> None:
    """Another app's include and lazy autodiscoveries are not the worker's: only its own loader
    imports at start; a forced autodiscovery imports wherever it is called (fixture
    worker_app_imports_only_its_own)."""
    root = tmp_path / "own"
    shutil.copytree(FIXTURES / "worker_app_imports_only_its_own", root)
    imported = json.loads(_run(root, (
        "import json, sys\n"
        "from proj.worker_app import app\n"
        "app.loader.import_default_modules()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'proj' or m.startswith('proj.'))))\n"
    )))
    project = _model(root)
    (worker,) = project.workers
    assert sorted(worker.closure.modules) == imported
    assert "proj.forced.tasks" in imported and not {"proj.mail", "proj.billing", "proj.billing.tasks"} & set(imported)
    assert [project.app_label(app) for app in project.worker_apps(worker)] == ["proj/worker_app.py:5"]
