"""Fitting ruff users' hands: selection layered as ruff layers it, ruff's file-level noqa, ruff's
output format names, --quiet, --show-files, --show-settings."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from celerylint.cli import main
from celerylint.suppress import file_noqa_codes, skips_file

APP = '''from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task
def sync():
    pass
'''
IGNORE_006 = "[tool.celerylint]\nignore = ['CEL006']\n"


# 1. --ignore adds to the file's ignore; --select replaces the file's select.


def test_cli_ignore_adds_to_the_files_ignore(project, capsys) -> None:
    root = project({"pyproject.toml": IGNORE_006, "proj/__init__.py": "", "proj/tasks.py": APP})
    assert main([str(root)]) == 0
    # Before: --ignore replaced the file's list and brought CEL006 back.
    assert main([str(root), "--ignore", "CEL001"]) == 0
    assert "CEL006" not in capsys.readouterr().out


def test_cli_select_still_replaces_the_files_select(project, capsys) -> None:
    root = project({"pyproject.toml": "[tool.celerylint]\nselect = ['CEL001']\n", "proj/__init__.py": "", "proj/tasks.py": APP})
    assert main([str(root)]) == 0
    assert main([str(root), "--select", "CEL006"]) == 1


# 2. `# ruff: noqa`, `# flake8: noqa`, `# celerylint: noqa` on a line of their own.


@pytest.mark.parametrize("comment", ["# flake8: noqa", "# ruff: noqa", "# celerylint: noqa", "  #  RUFF:NOQA  # legacy"])
def test_file_level_noqa_skips_the_file(project, capsys, comment: str) -> None:
    # Far below the first lines: ruff reads the whole file.
    source = APP + "\n" * 80 + comment + "\n"
    root = project({"proj/__init__.py": "", "proj/tasks.py": source})
    assert main([str(root)]) == 0
    assert main([str(root), "--disable-noqa"]) == 1


@pytest.mark.parametrize(
    "comment",
    [
        "x = 1  # ruff: noqa",  # not on a line of its own
        "# ruff: noqa: CEL001",  # other codes only
        "# flake8: noqa: CEL006",  # flake8 has no file-level codes
        "# ruff: noqa: CEL006 because",  # not a well-formed list: ruff ignores it too
    ],
)
def test_what_does_not_skip_the_file(project, comment: str) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": comment + "\n" + APP})
    assert main([str(root)]) == 1


@pytest.mark.parametrize("comment", ["# ruff: noqa: CEL006", "# celerylint: noqa: CEL001, CEL006", "# ruff: noqa: CEL00"])
def test_file_level_noqa_with_codes_suppresses_those_codes(project, comment: str) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": comment + "\n" + APP})
    assert main([str(root)]) == 0


def test_file_noqa_helpers() -> None:
    assert skips_file(["import os", "# ruff: noqa"])
    assert not skips_file(["# ruff: noqa: CEL003"])
    assert file_noqa_codes(["# ruff: noqa: CEL003,cel005", "# flake8: noqa: CEL006"]) == ("CEL003", "CEL005")


# 3. --quiet and ruff's --output-format names.


def test_quiet_prints_findings_only(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP})
    assert main([str(root), "--statistics", "-q"]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and "CEL006" in captured.out and captured.err == ""
    assert main([str(root), "--statistics"]) == 1
    assert "missing-time-limit" in capsys.readouterr().out


def test_quiet_hides_notices(project, capsys) -> None:
    root = project({"pyproject.toml": "", "a.py": "", "sub/pyproject.toml": "[tool.celerylint]\nbogus = 1\n", "sub/b.py": ""})
    assert main([str(root)]) == 0
    assert "its configuration cannot be read" in capsys.readouterr().err
    assert main([str(root), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_output_format_names(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP})
    assert main([str(root), "--output-format", "concise"]) == 1
    concise = capsys.readouterr().out
    assert main([str(root), "--format", "text"]) == 1
    assert capsys.readouterr().out == concise and concise.count("\n") == 1
    assert main([str(root), "--output-format", "full"]) == 1
    full = capsys.readouterr().out.splitlines()
    assert full[0] == concise.rstrip("\n") and full[1].strip() == "@app.task" and full[2].strip() == "^"
    # Then how to fix it and the evidence elsewhere, as ruff's full format does; a blank line after.
    assert full[3] == "    help: Add soft_time_limit=/time_limit= to the decorator, or set task_soft_time_limit/task_time_limit in the app's configuration."
    assert full[4] == f"    note: {os.path.relpath(root / 'proj' / 'tasks.py')}:3:7: its app, created here with no task_time_limit"
    assert full[5:] == [""]
    assert "help:" not in concise and "note:" not in concise
    assert main([str(root), "--show-source"]) == 1
    assert "help:" not in capsys.readouterr().out  # --show-source adds the source line only


def test_full_format_escapes_the_source_line(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP.replace("@app.task\n", "@app.task  # \x1b[2J\n")})
    assert main([str(root), "--output-format", "full"]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "@app.task  # \\x1b[2J" in out


def test_output_format_gitlab(project, capsys) -> None:
    """GitLab Code Quality: one issue per finding; a fingerprint unique among repeats and kept
    when lines above the finding move."""
    twice = APP + "\n\n@app.task\ndef sync():  # the same message twice\n    pass\n"
    root = project({"proj/__init__.py": "", "proj/tasks.py": twice})
    assert main([str(root), "--output-format", "gitlab"]) == 1
    issues = json.loads(capsys.readouterr().out)
    assert [issue["check_name"] for issue in issues] == ["CEL006", "CEL006"]
    first = issues[0]
    assert set(first) == {"description", "check_name", "fingerprint", "severity", "location"}
    assert first["severity"] == "major" and first["description"].startswith("task sync() and its app set no time limit")
    assert first["location"] == {"path": Path(os.path.relpath(root / "proj" / "tasks.py")).as_posix(), "lines": {"begin": 6, "end": 6}}
    assert issues[0]["description"] == issues[1]["description"]
    assert len({issue["fingerprint"] for issue in issues}) == 2
    (root / "proj" / "tasks.py").write_text("# a comment moves every line down\n" + twice)
    assert main([str(root), "--output-format", "gitlab", "--no-cache"]) == 1
    moved = json.loads(capsys.readouterr().out)
    assert moved[0]["location"]["lines"]["begin"] == 7
    assert [issue["fingerprint"] for issue in moved] == [issue["fingerprint"] for issue in issues]
    root3 = project({"clean/__init__.py": ""})
    assert main([str(root3 / "clean"), "--output-format", "gitlab"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_output_format_json_lines(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP, "proj/more.py": APP.replace("sync", "other")})
    assert main([str(root), "--output-format", "json-lines"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    items = [json.loads(line) for line in lines]
    assert main([str(root), "--output-format", "json"]) == 1
    assert items == json.loads(capsys.readouterr().out)


def test_output_format_pylint(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP})
    assert main([str(root), "--output-format", "pylint"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith(f"proj{os.sep}tasks.py:6: [CEL006] " + line.split("[CEL006] ")[1])
    assert line.split(":")[1] == "6"


def test_output_format_grouped(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP, "proj/more.py": APP.replace("sync", "other")})
    assert main([str(root), "--output-format", "grouped"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(f"proj{os.sep}more.py:") and out[1].startswith("  6:2 CEL006 ") and out[2] == ""
    assert out[3].endswith(f"proj{os.sep}tasks.py:") and out[4].startswith("  6:2 CEL006 ")


def test_format_from_config_accepts_ruff_names(project, capsys, monkeypatch) -> None:
    root = project({"pyproject.toml": "[tool.celerylint]\nformat = 'pylint'\n", "proj/__init__.py": "", "proj/tasks.py": APP})
    monkeypatch.chdir(root)
    assert main([]) == 1
    assert "[CEL006]" in capsys.readouterr().out


def test_bad_output_format_is_one_line(project, capsys) -> None:
    root = project({"a.py": ""})
    assert main([str(root), "--output-format", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("celerylint: error: ") and "'bogus'" in err


# 4. --show-files and --show-settings.


def test_show_files(project, capsys, monkeypatch) -> None:
    root = project({"pyproject.toml": "", "a.py": "def f(:\n", "build/x.py": "", "sub/pyproject.toml": "", "sub/b.py": ""})
    monkeypatch.chdir(root)
    assert main(["--show-files", "."]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "a.py  (project .)" in lines and "pyproject.toml  (project .)" in lines
    assert f"sub{os.sep}b.py  (project sub)" in lines
    assert not any(line.startswith("build") for line in lines)


def test_show_settings_says_where_each_came_from(project, capsys, monkeypatch) -> None:
    root = project({"pyproject.toml": IGNORE_006 + "worker-apps = ['proj.w']\n", "a.py": ""})
    monkeypatch.chdir(root)
    assert main(["--show-settings", "--ignore", "CEL001", "--select", "CEL0", "--no-cache"]) == 0
    out = capsys.readouterr().out.splitlines()
    config = str(Path("pyproject.toml").resolve())
    assert out[0] == "[.]"
    assert 'select = ["CEL0"]  # --select' in out
    assert f'ignore = ["CEL006", "CEL001"]  # {config} + --ignore' in out
    assert f'worker-apps = ["proj.w"]  # {config}' in out
    assert 'format = "text"  # default' in out
    assert "use-cache = false  # --no-cache" in out


# 5. A run that covers no Python file says so.


def test_warns_when_no_python_file(project, capsys) -> None:
    root = project({"README.md": "hello\n"})
    assert main([str(root)]) == 0
    assert capsys.readouterr().err == f"celerylint: warning: no Python file found in {root}\n"
    assert main([str(root), "-q"]) == 0
    assert capsys.readouterr().err == ""
    (root / "a.py").write_text("")
    assert main([str(root)]) == 0
    assert capsys.readouterr().err == ""


def test_no_warning_for_an_unsaved_python_buffer(project, capsys, monkeypatch) -> None:
    root = project({"README.md": "hello\n"})
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(APP.encode())))
    assert main(["-", "--stdin-filename", str(root / "new.py")]) == 1
    assert capsys.readouterr().err == ""
