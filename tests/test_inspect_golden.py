"""`celerylint inspect --format json` of every fixture equals its golden file, fixtures/<name>/inspect.json.

The golden files pin what the model positively knows (settings and where they are set,
worker entry modules and import paths, task bases, app contexts, limits): a model that
degrades to "unknown" leaves the fixtures' findings clean but changes these files.

Rewrite them on purpose, then read the diff:

    CELERYLINT_UPDATE_GOLDEN=1 python -m pytest tests/test_inspect_golden.py
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from celerylint.cli import main
from tests.conftest import FIXTURES

GOLDEN = "inspect.json"
UPDATE = os.environ.get("CELERYLINT_UPDATE_GOLDEN") == "1"
FIXTURE_DIRS = sorted(p for p in FIXTURES.iterdir() if p.is_dir()) if FIXTURES.is_dir() else []
IDS = [p.name for p in FIXTURE_DIRS]


def _copy(root: Path, tmp_path: Path) -> Path:
    """A copy outside this repository: a fixture without a project marker must not find ours above it."""
    copy = tmp_path / root.name
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(GOLDEN, "__pycache__", ".celerylint-cache"))
    return copy


def _inspect_json(copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.chdir(copy)  # roots are shown relative to the current folder: "." is the fixture
    assert main(["inspect", "--format", "json", "."]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("root", FIXTURE_DIRS, ids=IDS)
def test_inspect_matches_golden_file(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _inspect_json(_copy(root, tmp_path), monkeypatch, capsys)
    golden = root / GOLDEN
    if UPDATE:
        golden.write_text(out, encoding="utf-8")
        return
    assert golden.is_file(), f"no {golden}: run CELERYLINT_UPDATE_GOLDEN=1 python -m pytest {Path(__file__).name}"
    expected = golden.read_text(encoding="utf-8")
    if out != expected:
        diff = difflib.unified_diff(expected.splitlines(), out.splitlines(), f"{root.name}/{GOLDEN}", "inspect", lineterm="", n=6)
        changed = "same content, different layout" if json.loads(out) == json.loads(expected) else "the model's view changed"
        pytest.fail(f"{root.name}: {changed} (if on purpose, see the module docstring):\n" + "\n".join(list(diff)[:200]))


def test_every_fixture_has_a_golden_file() -> None:
    assert FIXTURE_DIRS
    missing = [p.name for p in FIXTURE_DIRS if not (p / GOLDEN).is_file()]
    assert UPDATE or not missing, missing


def test_golden_files_name_only_fixture_paths() -> None:
    """Paths are relative to the fixture and posix: no temporary folder, no backslash leaks in."""
    for root in FIXTURE_DIRS:
        golden = root / GOLDEN
        if not golden.is_file():
            continue
        text = golden.read_text(encoding="utf-8")
        assert "/tmp" not in text and "pytest-" not in text and "\\\\" not in text, root.name
        for project in json.loads(text)["projects"]:
            assert not Path(project["root"]).is_absolute() and ".." not in project["root"], root.name


def test_inspect_takes_several_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Each named project once, in a stable order, its root relative to the current folder."""
    for name in ("broker_only", "monorepo"):
        _copy(FIXTURES / name, tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["inspect", "--format", "json", "monorepo/services/notify/app", "broker_only", "monorepo/services/notify"]) == 0
    projects = json.loads(capsys.readouterr().out)["projects"]
    assert [p["root"] for p in projects] == ["broker_only", "monorepo/services/notify"]
    golden = json.loads((FIXTURES / "broker_only" / GOLDEN).read_text(encoding="utf-8"))["projects"][0]
    assert {**projects[0], "root": "."} == golden or UPDATE
    assert main(["inspect", "broker_only", "monorepo/services/billing"]) == 0
    text = capsys.readouterr().out
    assert "Project broker_only:" in text and "Project monorepo/services/billing:" in text
    assert "Celery app created at proj/celery_app.py:3" in text and "Celery app created at app/celery_app.py:3" in text


@pytest.mark.parametrize("name", ["monorepo", "django_autodiscover", "two_apps_shared_task", "flask_celery_init_app"])
def test_inspect_json_is_the_same_under_any_hash_seed(name: str, tmp_path: Path) -> None:
    copy = _copy(FIXTURES / name, tmp_path)
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        command = [sys.executable, "-m", "celerylint", "inspect", "--format", "json", "."]
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    golden = FIXTURES / name / GOLDEN
    if golden.is_file() and not UPDATE:
        assert outputs[0] == golden.read_text(encoding="utf-8")
