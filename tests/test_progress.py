"""The progress line of a long cold run: on a terminal only, overwritten in place, erased at the end."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Dict, List

import pytest

from celerylint import progress as progress_module
from celerylint.cli import main
from celerylint.progress import ProgressLine, progress_line
from tests.conftest import write_project

APP = 'from celery import Celery\n\napp = Celery("proj", broker="redis://", backend="redis://")\n\n\n@app.task\ndef sync():\n    pass\n'
CLEAR = "\r\033[K"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _project(tmp_path: Path, modules: int) -> Path:
    files: Dict[str, str] = {"proj/__init__.py": "", "proj/tasks.py": APP}
    files.update({f"proj/m{number}.py": f"X = {number}\n" for number in range(modules)})
    return write_project(tmp_path / "p", files)


def test_a_long_cold_run_shows_files_done_of_total_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(progress_module, "MIN_FILES", 10)
    root = _project(tmp_path, 20)
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main([str(root), "--jobs", "1"]) == 1
    err = terminal.getvalue()
    assert err.startswith("\rcelerylint: parsing 1/22 files") and "\rcelerylint: parsing 22/22 files" in err
    assert err.endswith(CLEAR) and err.count(CLEAR) == 1
    assert "CEL006" in capsys.readouterr().out  # the report is on stdout, untouched
    # A warm run (the cache the first run wrote) parses nothing: no line at all.
    terminal.seek(0)
    terminal.truncate()
    assert main([str(root), "--jobs", "1"]) == 1
    assert terminal.getvalue() == ""


def test_nothing_when_piped_quiet_or_short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(progress_module, "MIN_FILES", 10)
    root = _project(tmp_path, 20)
    assert main([str(root), "--jobs", "1", "--no-cache"]) == 1
    assert "parsing" not in capsys.readouterr().err  # capsys's stderr is no terminal: a pipe
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main([str(root), "--jobs", "1", "--no-cache", "-q"]) == 1
    assert terminal.getvalue() == ""
    monkeypatch.setattr(progress_module, "MIN_FILES", 200)
    assert main([str(root), "--jobs", "1", "--no-cache"]) == 1
    assert terminal.getvalue() == ""  # 22 files parse in a blink


def test_the_line_is_redrawn_at_most_every_interval_and_always_at_the_end() -> None:
    times: List[float] = [0.0]
    stream = Terminal()
    line = ProgressLine(stream, clock=lambda: times[0])
    for done in range(1, 301):
        times[0] = done * 0.001  # 300 files in 0.3 s
        line(done, 300)
    shown = [part for part in stream.getvalue().split("\r") if part]
    assert shown[0] == "celerylint: parsing 1/300 files" and shown[-1] == "celerylint: parsing 300/300 files"
    assert 3 <= len(shown) <= 5
    line.clear()
    assert stream.getvalue().endswith(CLEAR)
    assert progress_line(io.StringIO(), quiet=False) is None and progress_line(Terminal(), quiet=True) is None


def test_inspect_shows_the_line_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(progress_module, "MIN_FILES", 10)
    root = _project(tmp_path, 20)
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["inspect", str(root)]) == 0
    assert "\rcelerylint: parsing 22/22 files" in terminal.getvalue() and terminal.getvalue().endswith(CLEAR)
    assert "Celery app created at proj/tasks.py:3" in capsys.readouterr().out
