"""Bad input gets a clear diagnostic and the run goes on; nothing crashes or hangs."""

from __future__ import annotations

import ast
import os
import sysconfig
from pathlib import Path

import pytest

from celerylint import engine
from celerylint.cli import main
from celerylint.config import Settings
from celerylint.engine import run
from celerylint.facts import RELEVANT

TASKS = "from proj.celery_app import app\n\n\n@app.task(time_limit=5)\ndef job():\n    pass\n"
APP = "from celery import Celery\napp = Celery('p', broker='redis://', backend='redis://', task_time_limit=5)\n"


def _codes(root: Path):  # type: ignore[no-untyped-def]
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    return [(f.path, f.code) for f in findings]


def test_unparsable_importer_hides_no_import(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": APP + "import proj.loader\n",
            "proj/loader.py": "import proj.jobs\ndef broken(:\n",
            "proj/jobs.py": TASKS,
        }
    )
    assert _codes(root) == [("proj/loader.py", "CEL000")]


UNCONFIGURED = {
    "proj/__init__.py": "",
    "proj/celery_app.py": "from celery import Celery\napp = Celery('p')\n\n@app.task\ndef job():\n    pass\n",
    "proj/celeryconfig.py": "from proj.celery_app import app\napp.conf.task_time_limit = (\n",
    "proj/views.py": "from proj.celery_app import job\n\ndef v():\n    return job.delay().get()\n",
}


def test_unparsable_module_that_is_imported_makes_config_unknown(project, capsys) -> None:  # type: ignore[no-untyped-def]
    root = project({**UNCONFIGURED, "proj/views.py": "import proj.celeryconfig\n" + UNCONFIGURED["proj/views.py"]})
    assert main([str(root)]) == 1
    captured = capsys.readouterr()
    assert [line.split(": ")[1].split()[0] for line in captured.out.splitlines()] == ["CEL000"]
    # One notice names the file and the rules it silenced.
    notices = [line for line in captured.err.splitlines() if "celeryconfig.py" in line]
    assert len(notices) == 1 and "CEL001" in notices[0] and "CEL006" in notices[0]


def test_unparsable_module_that_nothing_imports_hides_nothing(project, capsys) -> None:  # type: ignore[no-untyped-def]
    root = project(UNCONFIGURED)
    assert _codes(root) == [("proj/celery_app.py", "CEL001"), ("proj/celery_app.py", "CEL006"), ("proj/celeryconfig.py", "CEL000")]
    assert main([str(root)]) == 1
    assert capsys.readouterr().err == ""


def test_symlinks_loops_and_dirs_named_like_modules(project, tmp_path_factory, capsys) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path_factory.mktemp("outside") / "ext.py"
    outside.write_text("x = 1\n")
    root = project({"proj/__init__.py": "", "proj/real.py": "y = 2\n"})
    (root / "proj" / "loop").symlink_to(root / "proj")
    (root / "proj" / "ext.py").symlink_to(outside)
    (root / "proj" / "dangling.py").symlink_to(root / "nowhere.py")
    (root / "proj" / "folder.py").mkdir()
    assert main([str(root)]) == 0  # a dangling link is no syntax error, and links to outside are not followed
    err = capsys.readouterr().err.splitlines()
    assert any("dangling.py: skipped: cannot read" in line for line in err)
    assert any("ext.py: skipped: a link to a file outside the project" in line for line in err)
    assert len(err) == 2


def test_unreadable_and_vanishing_files(project, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    root = project({"proj/__init__.py": "", "proj/secret.py": "x = (\n", "proj/gone.py": "y = (\n", "proj/ok.py": "z = (\n"})
    real_open = open

    def fake_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(path).name == "secret.py":
            raise PermissionError(13, "Permission denied")
        if Path(path).name == "gone.py":
            raise FileNotFoundError(2, "No such file or directory")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(engine, "open", fake_open, raising=False)
    assert main([str(root), "--no-cache"]) == 1
    captured = capsys.readouterr()
    # Skipped with a line on stderr each, never reported as syntax errors; the readable file is.
    assert [line.split(":")[0].rsplit("/", 1)[-1] for line in captured.out.splitlines()] == ["ok.py"]
    err = captured.err.splitlines()
    assert any("secret.py: skipped: cannot read (Permission denied)" in line for line in err)
    assert any("gone.py: skipped: cannot read (No such file or directory)" in line for line in err)


def test_non_utf8_file_name(project, capfdbinary) -> None:  # type: ignore[no-untyped-def]
    root = project({"proj/__init__.py": ""})
    name = os.fsdecode(b"caf\xe9.py")
    (root / "proj" / name).write_text("def f(:\n")
    assert main([str(root)]) == 1
    out = capfdbinary.readouterr().out
    assert b"caf\xe9.py:1:" in out and b"CEL000" in out


def test_malformed_and_huge_deploy_files(project) -> None:  # type: ignore[no-untyped-def]
    root = project(
        {
            "docker-compose.yml": "services: [\n  {{ celery worker -A\n\x00\xff",
            "Procfile": "worker: celery worker -A " + "x" * 3_000_000 + "\n",
            "proj/__init__.py": "",
        }
    )
    assert _codes(root) == []


def test_huge_generated_module_is_fast_and_fine(project, capsys) -> None:  # type: ignore[no-untyped-def]
    lines = ["from celery import Celery"] + [f"VALUE_{i} = {{'key': {i}, 'name': 'n{i}'}}" for i in range(400_000)]
    root = project({"proj/__init__.py": "", "proj/generated.py": "\n".join(lines) + "\n"})
    assert (root / "proj" / "generated.py").stat().st_size > 15_000_000
    assert main([str(root)]) == 0  # valid code is no syntax error: skipped with one clear line
    err = capsys.readouterr().err
    assert "generated.py: skipped: larger than 10 MB" in err and err.count("\n") == 1


def test_internal_error_is_one_line_exit_2(project, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    root = project({"a.py": ""})

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("kaboom")

    monkeypatch.setattr(engine, "findings_for", boom)
    assert main([str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" in err and "report" in err and "Traceback" not in err
    assert main([str(root), "--verbose"]) == 2
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_standard_library(capsys) -> None:  # type: ignore[no-untyped-def]
    """The running interpreter's stdlib, test suites included, all rules on: a large body of
    ordinary code with Celery lookalikes (multiprocessing's apply_async and AsyncResult) and
    no Celery at all. Exactly the files CPython's parser rejects are CEL000; nothing else fires."""
    import json

    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    sources = {}
    for path in stdlib.rglob("*.py"):
        if "site-packages" not in path.parts and "__pycache__" not in path.parts and path.is_file():
            sources[path.resolve()] = path.read_bytes()
    rejected = set()
    for path, data in sources.items():
        try:
            # The parser's verdict, not compile()'s: misplaced `from __future__` imports
            # (test_future_stmt/badsyntax_future*.py) parse, and celerylint only parses.
            ast.parse(data)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            rejected.add(path)
    mentions_celery = {path for path, data in sources.items() if b"celery" in data.lower()}
    # The lookalikes are really there, and some files do get the detailed (libcst) analysis.
    assert sum(1 for data in sources.values() if RELEVANT.search(data)) >= 10
    assert any(b"def apply_async" in data for data in sources.values())

    code = main([str(stdlib), "--no-cache", "--format", "json"])
    captured = capsys.readouterr()
    items = json.loads(captured.out)
    assert code == (1 if items else 0)
    assert "Traceback" not in captured.err and "internal error" not in captured.err
    assert "skipped" not in captured.err  # every stdlib file was read
    for item in items:
        path = Path(item["path"]).resolve()
        assert path in sources, item
        assert 1 <= item["line"] <= sources[path].count(b"\n") + 1, item

    syntax_errors = {Path(item["path"]).resolve() for item in items if item["code"] == "CEL000"}
    assert syntax_errors == rejected
    misfires = [(item["path"], item["line"], item["code"]) for item in items if item["code"] != "CEL000"]
    assert [m for m in misfires if Path(m[0]).resolve() not in mentions_celery] == []


def test_gitignored_files_are_skipped_unless_named(project, capsys) -> None:  # type: ignore[no-untyped-def]
    root = project({".gitignore": "generated/\n", "generated/bad.py": "def f(:\n", "ok.py": ""})
    assert main([str(root)]) == 0
    assert main([str(root / "generated")]) == 1
    assert "bad.py:1:" in capsys.readouterr().out
