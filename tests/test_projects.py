"""Project roots, several projects in one run, related locations, broken modules, machine output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from celerylint.cli import main
from celerylint.discover import project_root
from tests.conftest import FIXTURES, write_project

TIMEOUT = 60


def _cli(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """The real console entry point in a subprocess, so that a hang fails the test instead of the suite."""
    command = [sys.executable, "-m", "celerylint", *args]
    return subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=TIMEOUT)


def _lines(out: str) -> List[str]:
    return sorted(line for line in out.splitlines() if line.strip())


def test_markerless_root_is_the_parent_of_the_outermost_package(tmp_path: Path) -> None:
    (tmp_path / "shop" / "sub").mkdir(parents=True)
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "sub" / "__init__.py").write_text("")
    (tmp_path / "loose").mkdir()
    assert project_root(tmp_path / "shop" / "sub" / "x.py") == tmp_path
    assert project_root(tmp_path / "shop") == tmp_path
    assert project_root(tmp_path) == tmp_path
    assert project_root(tmp_path / "loose") == tmp_path / "loose"
    # A setup.py inside a package is one of its modules, not a project marker.
    (tmp_path / "shop" / "sub" / "setup.py").write_text("")
    assert project_root(tmp_path / "shop" / "sub" / "x.py") == tmp_path
    (tmp_path / "loose" / "setup.cfg").write_text("")
    assert project_root(tmp_path / "loose" / "x.py") == tmp_path / "loose"
    (tmp_path / "shop" / "pyproject.toml").write_text("")
    assert project_root(tmp_path / "shop" / "sub" / "x.py") == tmp_path / "shop"


def test_markerless_package_every_way_of_naming_it_agrees(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "markerless_package", tmp_path / "p")
    top = tmp_path / "p"
    whole = _cli(top, ".")
    assert whole.returncode == 1
    by_file = {}
    for line in _lines(whole.stdout):
        by_file.setdefault(line.split(":", 1)[0], []).append(line)
    assert set(by_file) == {"shop/celery_app.py", "shop/emails.py", "shop/views.py"}
    assert _lines(_cli(top, "shop").stdout) == _lines(whole.stdout)
    for rel, expected in by_file.items():
        # Naming a file also reports findings elsewhere that rest on it: compare those located in it.
        named = [line for line in _lines(_cli(top, rel).stdout) if line.startswith(rel + ":")]
        assert named == sorted(expected), rel
        inside = [line for line in _lines(_cli(top / "shop", Path(rel).name).stdout) if line.startswith(Path(rel).name + ":")]
        assert [line.split(":", 1)[1] for line in inside] == [line.split(":", 1)[1] for line in sorted(expected)]
    # From inside the package, with no path: the same project, Procfile included.
    assert len(_lines(_cli(top / "shop").stdout)) == len(_lines(whole.stdout))
    inspect = _cli(top / "shop", "inspect")
    assert "celery -A shop.celery_app" in inspect.stdout or "shop.celery_app" in inspect.stdout


def test_markerless_stdin_and_flake8_agree(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "markerless_package", tmp_path / "p")
    top = tmp_path / "p"
    source = (top / "shop" / "emails.py").read_text()
    piped = _cli(top, "-", "--stdin-filename", "shop/emails.py", stdin=source)
    assert _lines(piped.stdout) == _lines(_cli(top, "shop/emails.py").stdout)
    flake8 = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "CEL", "shop/emails.py"], cwd=top, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert [line.split(" ", 2)[1] for line in _lines(flake8.stdout)] == ["CEL002"]


def test_a_package_root_beside_its_marker_names_modules_from_the_root(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "shop",
        {
            "__init__.py": "",
            "celery_app.py": 'from celery import Celery\n\napp = Celery("shop", broker="redis://", include=["tasks"])\n',
            "tasks.py": "from celery_app import app\n\n\n@app.task\ndef job():\n    pass\n",
            "Procfile": "worker: celery -A celery_app worker\n",
        },
    )
    result = _cli(root, ".")
    assert [line.split(": ", 1)[1].split()[0] for line in _lines(result.stdout)] == ["CEL006"]


MONOREPO = FIXTURES / "monorepo"


def test_monorepo_each_service_is_its_own_project_in_any_order(tmp_path: Path) -> None:
    shutil.copytree(MONOREPO, tmp_path / "m")
    top = tmp_path / "m"
    whole = _cli(top, ".")
    billing, notify = "services/billing", "services/notify"
    forward = _cli(top, billing, notify)
    backward = _cli(top, notify, billing)
    assert forward.stdout == backward.stdout == whole.stdout
    assert forward.returncode == backward.returncode == 1
    codes = sorted(line.split(": ", 1)[1].split()[0] + " " + line.split(":")[0] for line in _lines(whole.stdout))
    assert codes == [
        "CEL002 services/billing/app/invoices.py",
        "CEL002 services/notify/app/sms.py",
        "CEL006 services/billing/app/tasks.py",  # notify ignores CEL006 in its own pyproject.toml
    ]


def test_settings_come_from_each_project_so_the_exit_code_ignores_order(tmp_path: Path) -> None:
    shutil.copytree(MONOREPO, tmp_path / "m")
    top = tmp_path / "m"
    billing = top / "services" / "billing"
    (billing / "pyproject.toml").write_text('[project]\nname = "b"\n\n[tool.celerylint]\nignore = ["CEL"]\n')
    (top / "services" / "notify" / "pyproject.toml").write_text('[project]\nname = "n"\n\n[tool.celerylint]\nignore = ["CEL002"]\n')
    a = _cli(top, "services/billing", "services/notify")
    b = _cli(top, "services/notify", "services/billing")
    assert (a.returncode, a.stdout) == (b.returncode, b.stdout)
    assert [line.split(": ", 1)[1].split()[0] for line in _lines(a.stdout)] == ["CEL006"] * 3


def test_statistics_keep_machine_formats_whole(capsys: pytest.CaptureFixture[str]) -> None:
    root = FIXTURES / "unimported_module"
    for output_format in ("json", "sarif", "junit"):
        main([str(root), "--statistics", "--format", output_format])
        captured = capsys.readouterr()
        if output_format == "junit":
            import xml.dom.minidom

            xml.dom.minidom.parseString(captured.out)
        else:
            json.loads(captured.out)
        assert "CEL002" in captured.err


def test_related_locations_in_json_and_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(FIXTURES / "markerless_package", tmp_path / "p")
    top = tmp_path / "p"
    main([str(top), "--format", "json"])
    items = {item["code"]: item for item in json.loads(capsys.readouterr().out)}
    cel001 = items["CEL001"]
    assert cel001["path"].endswith("shop/celery_app.py")
    assert [(Path(r["path"]).name, r["line"]) for r in cel001["related"]] == [("views.py", 10)]
    cel002 = items["CEL002"]
    related = {(Path(r["path"]).name, r["line"]) for r in cel002["related"]}
    assert ("Procfile", 1) in related and ("celery_app.py", 3) in related  # worker command, include=
    assert any(Path(r["path"]).name == "tasks.py" for r in items["CEL005"]["related"])
    main([str(top), "--format", "sarif"])
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    sarif001 = next(result for result in results if result["ruleId"] == "CEL001")
    uri = sarif001["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.endswith("shop/views.py")


def test_named_files_report_findings_that_rest_on_them(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "markerless_package", tmp_path / "p")
    top = tmp_path / "p"
    # CEL001 sits at the Celery() call; the read in views.py is what it rests on.
    assert "CEL001" in _cli(top, "shop/views.py").stdout
    # CEL002 sits in emails.py; the Procfile's worker command and include= are its evidence.
    assert "shop/emails.py:4:2: CEL002" in _cli(top, "Procfile").stdout
    assert "shop/emails.py:4:2: CEL002" in _cli(top, "shop/celery_app.py").stdout
    assert "CEL002" not in _cli(top, "shop/tasks.py").stdout


BROKEN_NEAR_ONE_APP = {
    "a/__init__.py": "",
    "a/celery_app.py": "from celery import Celery\napp = Celery('a')\n\n@app.task(time_limit=5)\ndef job():\n    pass\n",
    "a/views.py": "import a.celery_app\nimport a.settings\n\ndef v():\n    return a.celery_app.job.delay().get()\n",
    "a/settings.py": "from a.celery_app import app\napp.conf.result_backend = (\n",
    "b/__init__.py": "",
    "b/celery_app.py": "from celery import Celery\napp = Celery('b')\n\n@app.task(time_limit=5)\ndef job():\n    pass\n",
}


def test_a_broken_module_hides_only_the_apps_of_its_process(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", dict(BROKEN_NEAR_ONE_APP))
    result = _cli(root, ".")
    found = sorted(line.split(": ", 1)[1].split()[0] + " " + line.split(":")[0] for line in _lines(result.stdout))
    # a's config may be set by the broken a/settings.py (views.py imports it): unknown, silent.
    # b runs in no process that imports it: its missing backend is still reported.
    assert found == ["CEL000 a/settings.py", "CEL001 b/celery_app.py"]
    assert "a/settings.py" in result.stderr and "CEL001" in result.stderr


def test_a_half_typed_editor_buffer_is_reported_but_the_model_uses_the_saved_file(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "markerless_package", tmp_path / "p")
    top = tmp_path / "p"
    saved = _cli(top, "shop/celery_app.py")
    assert "CEL001" in saved.stdout
    buffer = (top / "shop" / "celery_app.py").read_text() + "\nx = (\n"
    piped = _cli(top, "-", "--stdin-filename", "shop/celery_app.py", stdin=buffer)
    codes = [line.split(": ", 1)[1].split()[0] for line in _lines(piped.stdout) if line.startswith("shop/celery_app.py:")]
    assert sorted(codes) == ["CEL000", "CEL001"]


def test_the_hook_definition_runs_on_deploy_files_with_force_exclude() -> None:
    import re

    import yaml  # type: ignore[import-untyped]

    hook = yaml.safe_load((FIXTURES.parent / ".pre-commit-hooks.yaml").read_text())[0]
    assert "--force-exclude" in hook["entry"]
    pattern = re.compile(hook["files"])
    for name in ("shop/tasks.py", "Procfile", "deploy/docker-compose.yml", "Makefile", "pyproject.toml", "ops/worker.service"):
        assert pattern.search(name), name
    assert not pattern.search("docs/index.rst")


def test_cache_dir_flag_and_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = tmp_path / "default"
    monkeypatch.setenv("CELERYLINT_CACHE_DIR", str(default))
    root = write_project(tmp_path / "p", {"proj/__init__.py": "", "proj/tasks.py": "x = 1\n"})
    chosen = tmp_path / "chosen"
    assert main([str(root), "--cache-dir", str(chosen)]) == 0
    assert list(chosen.glob("facts-*.pickle")) and not list(default.glob("facts-*"))
    assert main([str(root), "--no-cache"]) == 0
    assert not list(default.glob("facts-*"))


def test_a_project_found_below_with_unreadable_configuration_is_skipped(tmp_path: Path) -> None:
    top = tmp_path / "repo"
    shutil.copytree(MONOREPO, top)
    template = top / "templates" / "{{project}}"
    template.mkdir(parents=True)
    (template / "pyproject.toml").write_text("[tool.celerylint]\n{% if x %}select = []{% endif %}\n")
    (template / "x.py").write_text("{{ not python }}\n")
    result = _cli(top, ".")
    assert result.returncode == 1  # the other projects are still linted
    assert "CEL002" in result.stdout and "x.py" not in result.stdout
    assert [line for line in result.stderr.splitlines() if "{{project}}: skipped: its configuration cannot be read" in line]
    # Named (or run from inside), its configuration is the user's: one error line, exit 2.
    inside = _cli(template, ".")
    assert inside.returncode == 2 and inside.stderr.count("\n") == 1 and "invalid TOML" in inside.stderr
