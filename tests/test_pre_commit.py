"""The pre-commit hook works for real: installed from this checkout into a throwaway repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, write_project

# Each test installs the hook into a fresh pre-commit environment (tens of seconds): the slow tier.
pytestmark = pytest.mark.slow

CELERY_APP = '''from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", include={include})
app.conf.task_time_limit = 60
'''
REPORTS = '''from proj.celery_app import app


@app.task
def build_report(report_id):
    return report_id
'''


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def _hook(repo: Path, home: Path, *files: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    command = ["pre-commit", "try-repo", str(REPO), "celerylint", "--files", *files]
    return subprocess.run(command, cwd=repo, capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.skipif(shutil.which("pre-commit") is None or shutil.which("git") is None, reason="needs pre-commit and git")
def test_hook_fails_on_the_bug_and_passes_once_fixed(tmp_path: Path) -> None:
    repo = write_project(
        tmp_path / "consumer",
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": CELERY_APP.format(include='["proj.tasks"]'),
            "proj/tasks.py": "from proj.celery_app import app\n\n\n@app.task\ndef ping():\n    return 'pong'\n",
            "proj/reports.py": REPORTS,
        },
    )
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "buggy")
    home = tmp_path / "pre-commit-home"

    # Only reports.py changed, yet the finding needs the app and the Procfile: cross-file.
    failing = _hook(repo, home, "proj/reports.py")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "proj/reports.py:4:2: CEL002" in failing.stdout

    (repo / "proj" / "celery_app.py").write_text(CELERY_APP.format(include='["proj.tasks", "proj.reports"]'))
    _git(repo, "add", ".")
    passing = _hook(repo, home, "proj/reports.py")
    assert passing.returncode == 0, passing.stdout + passing.stderr

    # Dropping a module from include= changes only celery_app.py; the finding lands in reports.py.
    (repo / "proj" / "celery_app.py").write_text(CELERY_APP.format(include='["proj.tasks"]'))
    _git(repo, "add", ".")
    dropped = _hook(repo, home, "proj/celery_app.py")
    assert dropped.returncode == 1, dropped.stdout + dropped.stderr
    assert "proj/reports.py:4:2: CEL002" in dropped.stdout

    # Editing only the worker command in the Procfile runs the hook, which sees the same finding.
    (repo / "Procfile").write_text("worker: celery -A proj.celery_app worker --concurrency 2\n")
    _git(repo, "add", ".")
    procfile = _hook(repo, home, "Procfile")
    assert procfile.returncode == 1, procfile.stdout + procfile.stderr
    assert "proj/reports.py:4:2: CEL002" in procfile.stdout


@pytest.mark.skipif(shutil.which("pre-commit") is None or shutil.which("git") is None, reason="needs pre-commit and git")
def test_hook_fails_when_a_view_starts_reading_results(tmp_path: Path) -> None:
    repo = write_project(
        tmp_path / "consumer",
        {
            "proj/__init__.py": "",
            "proj/celery_app.py": 'from celery import Celery\n\ncelery = Celery("proj", broker="redis://")\n',
            "proj/views.py": "from proj.celery_app import celery\n\n\ndef status(tid):\n    return tid\n",
            "proj/excluded.py": "def broken(:\n",
            "pyproject.toml": '[tool.celerylint]\nextend-exclude = ["proj/excluded.py"]\n',
        },
    )
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "clean")
    home = tmp_path / "pre-commit-home"
    # --force-exclude: an excluded file pre-commit passes is not linted.
    clean = _hook(repo, home, "proj/views.py", "proj/excluded.py")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    # Only views.py changes; the finding is at the Celery() call in celery_app.py.
    (repo / "proj" / "views.py").write_text("from proj.celery_app import celery\n\n\ndef status(tid):\n    return celery.AsyncResult(tid).state\n")
    _git(repo, "add", ".")
    failing = _hook(repo, home, "proj/views.py")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "proj/celery_app.py:3:10: CEL001" in failing.stdout
