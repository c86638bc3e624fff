"""The command line: output format, exit codes, errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys


from celerylint.cli import main

APP = '''from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task
def sync():
    pass
'''


def test_findings_exit_1_flake8_format(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP})
    assert main([str(root)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    path, line, col, rest = out[0].split(":", 3)
    assert path.endswith("proj/tasks.py") and line == "6" and col == "2"
    assert rest.startswith(" CEL006 ")


def test_clean_exit_0(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP.replace("@app.task", "@app.task(time_limit=9)")})
    assert main([str(root)]) == 0
    assert capsys.readouterr().out == ""


def test_json_output(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP})
    assert main([str(root), "--format", "json"]) == 1
    items = json.loads(capsys.readouterr().out)
    assert items[0]["code"] == "CEL006" and items[0]["name"] == "missing-time-limit"
    assert set(items[0]) == {"path", "line", "column", "end_line", "end_column", "code", "name", "message", "help", "related"}
    assert items[0]["help"].startswith("Add soft_time_limit=")


def test_select_and_ignore(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP})
    assert main([str(root), "--ignore", "CEL006"]) == 0
    assert main([str(root), "--select", "CEL00"]) == 1
    assert main([str(root), "--select", "CEL001"]) == 0


def test_missing_path_is_usage_error(tmp_path, capsys) -> None:
    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err


def test_unknown_code_is_usage_error(project, capsys) -> None:
    root = project({"a.py": ""})
    assert main([str(root), "--select", "XYZ1"]) == 2
    assert "unknown rule code" in capsys.readouterr().err


def test_bad_config_key(project, capsys) -> None:
    root = project({"pyproject.toml": "[tool.celerylint]\nselct = ['CEL001']\n", "a.py": ""})
    assert main([str(root)]) == 2
    err = capsys.readouterr().err
    assert "selct" in err and "did you mean 'select'" in err


def test_worker_apps_from_config(project, capsys) -> None:
    files = {
        "pyproject.toml": "[tool.celerylint]\nworker-apps = ['proj.worker']\n",
        "proj/__init__.py": "",
        "proj/worker.py": 'from celery import Celery\napp = Celery("p", broker="redis://", task_time_limit=5)\n',
        "proj/jobs.py": "from proj.worker import app\n\n\n@app.task\ndef job():\n    pass\n",
    }
    root = project(files)
    assert main([str(root)]) == 1
    out = capsys.readouterr().out
    assert "CEL002" in out and "celery -A proj.worker" in out


def test_syntax_error_reported_and_run_goes_on(project, capsys) -> None:
    root = project({"proj/__init__.py": "", "proj/broken.py": "def f(:\n", "proj/tasks.py": APP})
    assert main([str(root)]) == 1
    out = capsys.readouterr().out
    assert "broken.py:1:" in out and "CEL000" in out
    assert "CEL006" in out


def test_reports_only_named_files_but_analyses_whole_project(project, capsys) -> None:
    files = {
        "Procfile": "worker: celery -A proj.celery_app worker\n",
        "proj/__init__.py": "",
        "proj/celery_app.py": 'from celery import Celery\napp = Celery("p", broker="redis://", task_time_limit=5)\n',
        "proj/jobs.py": "from proj.celery_app import app\n\n\n@app.task\ndef job():\n    pass\n",
        "proj/other.py": APP,
    }
    root = project(files)
    assert main([str(root / "proj" / "jobs.py")]) == 1
    out = capsys.readouterr().out
    assert "jobs.py:4:2: CEL002" in out
    assert "other.py" not in out


def test_explain_and_list_rules(capsys) -> None:
    assert main(["--explain", "cel003"]) == 0
    text = capsys.readouterr().out
    assert "task-needs-app-context" in text and "## Use instead" in text
    assert main(["--list-rules"]) == 0
    assert "CEL005" in capsys.readouterr().out
    assert main(["--explain", "CEL999"]) == 2


def test_inspect(project, capsys) -> None:
    files = {
        "Procfile": "worker: celery -A proj.celery_app worker\n",
        "proj/__init__.py": "",
        "proj/celery_app.py": 'import os\nfrom celery import Celery\napp = Celery("p", broker=os.environ["B"], include=["proj.jobs"])\n',
        "proj/jobs.py": "from proj.celery_app import app\n\n\n@app.task(time_limit=3)\ndef job():\n    pass\n",
    }
    root = project(files)
    assert main(["inspect", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Celery app created at proj/celery_app.py:3" in out
    assert "result_backend: not set" in out
    assert "broker_url: <computed at run time>  (from proj/celery_app.py:3" in out
    assert "proj.jobs.job" in out and "yes, by `-A proj.celery_app`" in out


def test_inspect_follows_constants(project, capsys) -> None:
    files = {
        "config.py": "class Config:\n    CELERY_BROKER_URL = 'redis://from-config'\n",
        "app.py": "from celery import Celery\nfrom config import Config\napp = Celery('p', broker=Config.CELERY_BROKER_URL)\n",
    }
    root = project(files)
    assert main(["inspect", str(root)]) == 0
    assert "broker_url: 'redis://from-config'  (from app.py:3, as broker_url)" in capsys.readouterr().out


def test_module_entry_point(project) -> None:
    root = project({"a.py": ""})
    result = subprocess.run([sys.executable, "-m", "celerylint", str(root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_command_exits_fast_with_its_whole_output(project) -> None:  # type: ignore[no-untyped-def]
    """`python -m celerylint` skips the heap teardown (os._exit) but still flushes everything it
    printed, through a pipe, and keeps the exit status."""
    files = {"proj/__init__.py": ""}
    for number in range(60):  # a few hundred KB of JSON, more than any pipe buffer
        files[f"proj/tasks_{number}.py"] = APP.replace("def sync", f"def sync_{number}_" + "x" * 60)
    root = project(files)
    result = subprocess.run([sys.executable, "-m", "celerylint", str(root), "--format", "json", "--no-cache"], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert len(json.loads(result.stdout)) == 60
    clean = subprocess.run([sys.executable, "-m", "celerylint", "--list-rules"], capture_output=True, text=True)
    assert clean.returncode == 0 and "CEL025" in clean.stdout
