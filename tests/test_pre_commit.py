"""The pre-commit hook works for real: installed from this checkout into a throwaway repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, write_project

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
