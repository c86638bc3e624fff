"""What a cloned repository can hold must not hang celerylint, exhaust its memory or forge its output.

Each case runs the real console entry in a subprocess with a time limit and an address-space
limit (RLIMIT_AS), so that a hang or an unbounded read fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import xml.dom.minidom
from pathlib import Path
from typing import List

import pytest

from celerylint import discover
from celerylint.cli import main
from celerylint.inspect_cmd import mask_password
from tests.conftest import write_project

TIME_LIMIT_SECONDS = 60
# celerylint's parser thread reserves a 512 MiB stack: the limit leaves room for that, not for 8 GB.
MEMORY_LIMIT_BYTES = 3 * 1024**3

APP = "from celery import Celery\n\napp = Celery('p', broker='redis://', backend='redis://')\n"
TASK = APP + "\n\n@app.task\ndef job():\n    pass\n"


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "celerylint", *args]
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIME_LIMIT_SECONDS, preexec_fn=_limited, env=env)


def _flake8(cwd: Path, *files: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "flake8", "--select", "CEL", *files]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIME_LIMIT_SECONDS, preexec_fn=_limited)


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "p", {"proj/__init__.py": "", "proj/tasks.py": TASK, "Procfile": "worker: celery -A proj.tasks worker\n"})
    (root / "zero.py").symlink_to("/dev/zero")
    (root / "proj" / "random.py").symlink_to("/dev/urandom")
    (root / "Procfile.dev").symlink_to("/dev/zero")
    (root / "docker-compose.yml").symlink_to("/dev/urandom")
    os.mkfifo(root / "fifo.py")
    os.mkfifo(root / "worker.sh")
    return root


@pytest.mark.parametrize("mode", ["lint", "inspect", "stdin", "flake8"])
def test_devices_and_fifos_are_never_read(hostile: Path, mode: str) -> None:
    if mode == "lint":
        result = _run(hostile, ".")
    elif mode == "inspect":
        result = _run(hostile, "inspect", ".")
    elif mode == "stdin":
        result = subprocess.run(
            [sys.executable, "-m", "celerylint", "-", "--stdin-filename", "proj/tasks.py"],
            cwd=hostile, input=TASK, capture_output=True, text=True, timeout=TIME_LIMIT_SECONDS, preexec_fn=_limited,
        )
    else:
        result = _flake8(hostile, "proj/tasks.py")
    assert result.returncode in (0, 1), result.stderr
    if mode != "flake8":
        assert result.returncode == (0 if mode == "inspect" else 1)
    if mode in ("lint", "stdin"):
        assert "proj/tasks.py:6:2: CEL006" in result.stdout
    if mode == "lint":
        for name in ("zero.py", "fifo.py", "proj/random.py"):
            assert f"{name}: skipped" in result.stderr, name


def test_a_folder_that_cannot_be_listed_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path / "p", {"proj/__init__.py": "", "proj/tasks.py": TASK, "pgdata/base/x.py": ""})
    (root / ".gitignore").write_text("pgdata/\n")
    (root / "data").mkdir()
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        if Path(path).name in ("pgdata", "data"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(discover.os, "scandir", scandir)
    assert main([str(root), "--no-cache"]) == 1
    captured = capsys.readouterr()
    assert "proj/tasks.py:6:2: CEL006" in captured.out
    assert "data: skipped: cannot list folder (Permission denied)" in captured.err
    assert "pgdata" not in captured.err  # gitignored: never entered, nothing to say


def test_a_symlink_loop_between_two_modules_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path / "p", {"proj/__init__.py": "", "proj/tasks.py": TASK})
    (root / "proj" / "a.py").symlink_to(root / "proj" / "b.py")
    (root / "proj" / "b.py").symlink_to(root / "proj" / "a.py")
    assert main([str(root / "proj" / "tasks.py"), "--no-cache"]) == 1
    err = capsys.readouterr().err
    assert "a.py: skipped: cannot read" in err and "b.py: skipped: cannot read" in err
    assert _flake8(root, "proj/tasks.py").returncode == 1


def test_file_names_and_task_names_cannot_forge_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(
        tmp_path / "p",
        {
            "proj/__init__.py": "",
            # CEL018 names the task as registered: '<name>' goes to queue 'nowhere'.
            "proj/tasks.py": TASK.replace("@app.task", '@app.task(name="\\x1b[2J\\x07evil", queue="nowhere")'),
            "Procfile": "worker: celery -A proj.tasks worker\n",
        },
    )
    (root / "proj" / "x\nProcfile:1:1: CEL001 forged.py").write_text("def broken(:\n")
    assert main([str(root), "--no-cache"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3, out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b[2J" in out
    assert not any(line.startswith("Procfile") for line in lines)
    main([str(root), "--format", "junit"])
    xml.dom.minidom.parseString(capsys.readouterr().out)
    main([str(root), "--format", "json"])
    assert len(json.loads(capsys.readouterr().out)) == 3
    main([str(root), "--format", "github"])
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_inspect_masks_passwords_in_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert mask_password("'redis://:hunter2@cache:6379/0'") == "'redis://:****@cache:6379/0'"
    assert mask_password("'amqp://app:p4ss@rabbit//'") == "'amqp://app:****@rabbit//'"
    assert mask_password("'redis://localhost:6379/0'") == "'redis://localhost:6379/0'"
    root = write_project(tmp_path / "p", {"proj/__init__.py": "", "proj/tasks.py": TASK.replace("'redis://'", "'redis://:hunter2@cache:6379/0'", 1)})
    main(["inspect", str(root)])
    out = capsys.readouterr().out
    assert "hunter2" not in out and "redis://:****@cache:6379/0" in out


def test_pathological_deploy_lines_finish(tmp_path: Path) -> None:
    # A 1 MB line of `celery celery ...` took 13 minutes in 0.1 (a backtracking pattern).
    root = write_project(
        tmp_path / "p",
        {
            "proj/__init__.py": "",
            "proj/tasks.py": TASK,
            "Procfile": "web: " + "celery " * 130_000 + "\nworker: celery -A proj.tasks worker --time-limit 30\n",
            "run.sh": "worker \\\n" * 17_777 + "\n",
        },
    )
    result = _run(root, ".")
    # The worker command after the long line is still read: its --time-limit silences CEL006.
    assert result.returncode == 0, result.stdout + result.stderr


def _lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if line]


def test_flake8_analyses_a_crlf_checkout_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """flake8 hands the plugin decoded lines (BOM dropped, newlines made \\n); a CRLF or BOM file
    must not look like an unsaved buffer, or each file re-analyses the whole project."""
    import io

    from celerylint import engine, flake8_plugin

    files = {"proj/__init__.py": "", **{f"proj/m{i}.py": f"import proj.m{i + 1}\nX = {i}\n" for i in range(20)}, "proj/tasks.py": TASK}
    root = write_project(tmp_path / "p", files)
    for path in root.rglob("*.py"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    calls = []
    real_run_all = engine.run_all
    monkeypatch.setattr(engine, "run_all", lambda *args, **kwargs: calls.append(1) or real_run_all(*args, **kwargs))
    flake8_plugin._project_findings.cache_clear()
    reported = []
    for path in sorted(root.rglob("*.py")):
        lines = io.TextIOWrapper(io.BytesIO(path.read_bytes()), encoding="utf-8-sig").readlines()  # as flake8 reads
        reported += [text.split()[0] for _, _, text, _ in flake8_plugin.CeleryLintPlugin(None, str(path), lines).run()]
    assert len(calls) == 1
    assert reported == ["CEL006"]


def test_no_home_directory_means_no_cache_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    for name in ("HOME", "XDG_CACHE_HOME", "CELERYLINT_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    from celerylint.model import setting_names as setting_names

    setting_names.tables.cache_clear()  # read Celery's table again, with nowhere to snapshot it
    root = write_project(tmp_path / "p", {"proj/__init__.py": "", "proj/tasks.py": TASK.replace("broker='redis://'", "brokr='redis://'")})
    assert main([str(root)]) == 1
    captured = capsys.readouterr()
    assert "CEL006" in captured.out and captured.err == ""


def test_a_named_link_out_of_the_project_does_not_move_the_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pyproject.toml").write_text("[tool.celerylint]\nselect = ['CEL000']\n")
    (outside / "tasks.py").write_text(TASK + "\nbroker = 'redis://:hunter2@cache//'\n")
    root = write_project(tmp_path / "p", {"proj/__init__.py": "", "proj/tasks.py": TASK})
    (root / "etc").symlink_to(outside)
    assert discover.project_root(root / "etc") == root  # not the link's target, wherever it points
    main([str(root / "etc")])
    main(["inspect", str(root / "etc")])
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out and "outside" not in captured.out
    assert "etc: skipped: a link to a folder" in captured.err
