"""`celerylint inspect --why TASK`: the PENDING checklist, answered from the source."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from celerylint.cli import main
from tests.conftest import FIXTURES


def _why(tmp_path: Path, fixture: str, task: str, capsys: pytest.CaptureFixture[str]) -> str:
    copy = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, copy)
    assert main(["inspect", "--why", task, str(copy)]) == 0
    return capsys.readouterr().out


def test_a_factory_the_worker_never_runs_shows_in_the_worker_view(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _why(tmp_path, "factory_config", "proj.tasks.resize_image", capsys)
    assert "1. result backend, as the web process sees it: 'redis://redis:6379/1' (proj/__init__.py:9)" in out
    assert "as `-A proj.celery` sees it: NOT SET" in out  # backend and broker alike
    assert out.count("NOT SET") == 3  # the worker sees no backend, no broker, no task_time_limit
    assert "4. registered in the worker: yes, by `-A proj.celery` via the include setting (proj/__init__.py:4)" in out
    assert "3. queue 'celery' (the default queue); consumed by `-A proj.celery`: yes" in out


def test_queues_results_and_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _why(tmp_path, "flask_celery_init_app", "task_app.tasks.add", capsys)
    assert "5. Flask app context: provided" in out
    assert "6. results stored: yes" in out
    assert "8. arguments encoded with: json" in out


def test_an_unknown_task_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(FIXTURES / "factory_config", tmp_path / "p")
    assert main(["inspect", "--why", "proj.tasks.nothing", str(tmp_path / "p")]) == 2
    assert "no task named 'proj.tasks.nothing'" in capsys.readouterr().err
