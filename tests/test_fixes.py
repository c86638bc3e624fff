"""Fixes (`--fix`, `--diff`, `--unsafe-fixes`): each fix on its rule's INVALID cases, the exact
text of representative ones (formatting and comments kept), the command line's writes, diffs and
exit codes, the unsafe gate, idempotence, and what must never be rewritten."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Set, Tuple

import libcst as cst
import pytest

from celerylint.cli import main
from celerylint.config import Settings
from celerylint.engine import analyse_project, run
from celerylint.fixes import TextEdit, apply_edits, fixes_for, plan_fixes
from celerylint.fixes.apply import fix_run
from celerylint.fixes.registry import FIXERS
from celerylint.rules import ALL_RULES, Rule
from tests.conftest import write_project

FIXABLE = [rule for rule in ALL_RULES if rule.autofix]
SETTINGS = Settings(use_cache=False)


def _settings_for(root: Path) -> Settings:
    return SETTINGS


def _fixed(root: Path, unsafe: bool = False) -> Tuple[Dict[str, str], Set[Tuple[str, int, str]], Set[Tuple[str, int, str]]]:
    """Fix the project in memory: (fixed text by file, findings left, findings left unfixed with a reason)."""
    outcome = fix_run([root], _settings_for, jobs=1, unsafe=unsafe)
    texts = {path.relative_to(root).as_posix(): text for path, text in outcome.after.items()}
    left = {(f.path, f.line, f.code) for _, findings in outcome.result.projects for f in findings}
    reasons = {(item.finding.path, item.finding.line, item.finding.code) for _, item in outcome.unfixed}
    assert all(item.why for _, item in outcome.unfixed)
    # A fix still offered after the passes did not fix what it claims to (or broke the file).
    assert not [item for _, item in outcome.unfixed if "could not be applied" in item.why]
    return texts, left, reasons


def _fix_text(tmp_path: Path, files: Dict[str, str], rel: str, unsafe: bool = False) -> str:
    root = write_project(tmp_path / "p", dict(files))
    texts, _, _ = _fixed(root, unsafe)
    return texts.get(rel, files[rel])


@pytest.mark.parametrize("rule", FIXABLE, ids=[rule.code for rule in FIXABLE])
def test_fix_on_every_invalid_case(rule: Rule, tmp_path: Path) -> None:
    """Each pinned finding is fixed (the fixed project parses and no longer reports it, nor any
    code it did not report before) or left with a reason; at least one case of each rule is fixed."""
    fixed_somewhere = False
    for number, case in enumerate(rule.invalid):
        root = write_project(tmp_path / f"case{number}", case.files())
        _, before = run([root], SETTINGS, jobs=1)
        texts, left, reasons = _fixed(root, unsafe=rule.autofix == "unsafe")
        for rel, text in texts.items():
            cst.parse_module(text)
            (root / rel).write_text(text)
        _, after = run([root], SETTINGS, jobs=1)
        assert {(f.path, f.line, f.code) for f in after} == left
        for pinned in case.expected():
            assert pinned not in left or pinned in reasons, f"{pinned} neither fixed nor said why"
        fixed_somewhere |= any(pinned not in left for pinned in case.expected())
        assert {f.code for f in after} <= {f.code for f in before}
    assert fixed_somewhere


def test_every_fixer_belongs_to_a_rule_that_says_so() -> None:
    assert set(FIXERS) == {rule.code for rule in FIXABLE}
    assert all(rule.autofix in ("safe", "unsafe") for rule in FIXABLE)
    for rule in FIXABLE:
        assert "Fix is sometimes available" in rule.explain()


# --- the exact text of representative fixes ------------------------------------------------

MIXED = '''from celery import Celery

app = Celery("proj")
app.conf.update(
    broker_url="redis://",  # the broker
    CELERY_RESULT_BACKEND="redis://",  # results
    CELERYD_CONCURRENCY=4,
)
'''


def test_cel011_renames_every_old_key_of_the_configuration(tmp_path: Path) -> None:
    files = {"proj/__init__.py": "", "proj/celery_app.py": MIXED}
    assert _fix_text(tmp_path, files, "proj/celery_app.py") == MIXED.replace(
        "CELERY_RESULT_BACKEND=", "result_backend="
    ).replace("CELERYD_CONCURRENCY=", "worker_concurrency=")


CONFIG_MODULE = '''import os

BROKER_URL = os.environ.get("BROKER_URL", "redis://")  # from the environment
CELERY_RESULT_BACKEND = os.environ["CELERY_RESULT_BACKEND"]
CELERY_TASK_SERIALIZER = "json"
if os.environ.get("SLOW"):
    CELERYD_CONCURRENCY = 1
worker_prefetch_multiplier = 1
task_acks_late = True
task_time_limit = 60
result_expires = 60
'''


def test_cel011_config_module_keeps_environment_variable_names(tmp_path: Path) -> None:
    files = {
        "proj/__init__.py": "",
        "proj/celeryconfig.py": CONFIG_MODULE,
        "proj/celery_app.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n',
    }
    fixed = _fix_text(tmp_path, files, "proj/celeryconfig.py")
    assert fixed == (
        CONFIG_MODULE.replace("BROKER_URL = ", "broker_url = ")
        .replace("CELERY_RESULT_BACKEND = ", "result_backend = ")
        .replace("CELERY_TASK_SERIALIZER = ", "task_serializer = ")
        .replace("CELERYD_CONCURRENCY = ", "worker_concurrency = ")
    )
    assert 'os.environ.get("BROKER_URL"' in fixed and 'os.environ["CELERY_RESULT_BACKEND"]' in fixed


def test_cel011_never_rewrites_a_config_flask_reads_too(tmp_path: Path) -> None:
    files = {
        "web/__init__.py": '''from celery import Celery
from flask import Flask


class Config:
    SECRET_KEY = "dev"
    BROKER_URL = "redis://"
    result_backend = "redis://"
    task_time_limit = 60


def create_app():
    app = Flask(__name__)
    app.config.from_object(Config)
    return app


celery = Celery(__name__)
celery.config_from_object(Config)
''',
    }
    root = write_project(tmp_path / "p", dict(files))
    _, found = run([root], SETTINGS, jobs=1)
    assert [(f.line, f.code) for f in found if f.code == "CEL011"] == [(7, "CEL011")]
    texts, left, reasons = _fixed(root)
    assert texts == {} and ("web/__init__.py", 7, "CEL011") in left & reasons


def test_cel011_no_fix_when_old_and_new_names_are_both_set_or_the_key_is_read(tmp_path: Path) -> None:
    both = {
        "proj/__init__.py": "",
        "proj/celery_app.py": MIXED.replace("    CELERYD_CONCURRENCY=4,\n", "    CELERYD_CONCURRENCY=4,\n    worker_concurrency=4,\n    task_acks_late=True,\n"),
    }
    root = write_project(tmp_path / "both", both)
    outcome = plan_fixes(*_analysed(root))
    assert not outcome.fixes and any("both 'CELERYD_CONCURRENCY' and 'worker_concurrency'" in u.why for u in outcome.unfixed)
    read = {
        "proj/__init__.py": "",
        "proj/celeryconfig.py": "BROKER_URL = 'redis://'\nresult_backend = 'redis://'\ntask_acks_late = True\n",
        "proj/celery_app.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n',
        "proj/views.py": "from proj.celeryconfig import BROKER_URL\n",
    }
    root = write_project(tmp_path / "read", read)
    outcome = plan_fixes(*_analysed(root))
    assert not outcome.fixes and any("reads 'BROKER_URL'" in u.why for u in outcome.unfixed)


def _analysed(root: Path) -> Tuple[object, List[object]]:
    analysis, findings = run([root], SETTINGS, jobs=1)
    return analysis, findings  # type: ignore[return-value]


def test_cel017_keeps_aliases_comments_and_the_other_names(tmp_path: Path) -> None:
    source = (
        "from celery.task import (  # old home\n"
        "    Task,\n"
        "    task as celery_task,\n"
        ")\n"
        "from celery.task import task\n"
        "from celery.task import crontab, Task as Base\n"
        "from celery.task import (crontab as cron,  # a comment would be lost: no fix\n"
        "    task as t)\n"
        "\n"
        "\n"
        "@task\n"
        "def a():\n"
        "    return crontab, Base, Task, celery_task, cron, t\n"
    )
    fixed = _fix_text(tmp_path, {"proj/__init__.py": "", "proj/tasks.py": source}, "proj/tasks.py")
    assert fixed == (
        "from celery import (  # old home\n"
        "    Task,\n"
        "    shared_task as celery_task,\n"
        ")\n"
        "from celery import shared_task as task\n"
        "from celery.schedules import crontab\n"
        "from celery import Task as Base\n"
        "from celery.task import (crontab as cron,  # a comment would be lost: no fix\n"
        "    task as t)\n"
        "\n"
        "\n"
        "@task\n"
        "def a():\n"
        "    return crontab, Base, Task, celery_task, cron, t\n"
    )


BIND = '''from celery import Celery, shared_task

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def a(self, x):
    return x


@shared_task(
    max_retries=3,  # retries
)
def b(self, x):
    return x


@app.task()
def c(self):
    return 1
'''


def test_cel014_adds_bind_true(tmp_path: Path) -> None:
    fixed = _fix_text(tmp_path, {"proj/__init__.py": "", "proj/tasks.py": BIND}, "proj/tasks.py")
    assert fixed == (
        BIND.replace("@app.task\n", "@app.task(bind=True)\n")
        .replace("max_retries=3,  # retries", "max_retries=3, bind=True,  # retries")
        .replace("@app.task()", "@app.task(bind=True)")
    )


DELAY = '''from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def send(user_id, text="", **extra):
    return user_id


def later(user_id):
    send.delay(user_id, countdown=60)
    send.delay(countdown=60, user_id=user_id, queue="mail")
    send.delay(
        user_id,
        text="hi",
        eta=None,
    )
    send.delay(
        user_id,  # who: a comment between arguments is kept, so no fix
        countdown=1,
    )
    send.s(countdown=5)
    send.si(user_id, expires=10)
    send.delay(*[user_id], countdown=60)
'''


def test_cel022_moves_options_out_of_the_task_arguments(tmp_path: Path) -> None:
    fixed = _fix_text(tmp_path, {"proj/__init__.py": "", "proj/tasks.py": DELAY}, "proj/tasks.py")
    assert fixed == DELAY.replace(
        "send.delay(user_id, countdown=60)", "send.apply_async((user_id,), countdown=60)"
    ).replace(
        'send.delay(countdown=60, user_id=user_id, queue="mail")',
        'send.apply_async(kwargs={"user_id": user_id}, countdown=60, queue="mail")',
    ).replace(
        'send.delay(\n        user_id,\n        text="hi",\n        eta=None,\n    )',
        'send.apply_async(\n        (user_id,), kwargs={"text": "hi"}, eta=None,\n    )',
    ).replace(
        "send.s(countdown=5)", "send.s().set(countdown=5)"
    ).replace(
        "send.si(user_id, expires=10)", "send.si(user_id).set(expires=10)"
    )
    assert "send.delay(*[user_id], countdown=60)" in fixed  # a spread: no fix
    assert "send.delay(\n        user_id,  # who" in fixed


def test_unsafe_fixes_cel010_and_cel020(tmp_path: Path) -> None:
    source = '''from celery import Celery

app = Celery("proj", backend="redis://", task_time_limit=60)
app.conf.update({"broker_ur": "redis://"})


@app.task(ignore_results=True)
def ping():
    return "pong"
'''
    files = {"proj/__init__.py": "", "proj/celery_app.py": source}
    assert _fix_text(tmp_path / "safe", files, "proj/celery_app.py") == source
    assert _fix_text(tmp_path / "unsafe", files, "proj/celery_app.py", unsafe=True) == source.replace(
        '"broker_ur"', '"broker_url"'
    ).replace("ignore_results=", "ignore_result=")


def test_fixes_for_reads_the_unsaved_buffer(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {"proj/__init__.py": "", "proj/tasks.py": BIND})
    path = root / "proj/tasks.py"
    buffer = ("# unsaved\n" + BIND).encode()
    analysis = analyse_project(root, [root], SETTINGS, 1, {path: buffer})
    from celerylint.engine import findings_for

    fixes = fixes_for(analysis, findings_for(analysis, [root]))
    assert fixes and all(fix.safe for fix in fixes)
    fixed = apply_edits(buffer.decode(), [edit for fix in fixes for edit in fix.edits])
    assert fixed.startswith("# unsaved\n") and "@app.task(bind=True)\ndef a" in fixed


def test_apply_edits_counts_lines_as_python_does() -> None:
    text = "a = 1\x0c  # form feed\r\nb = 2\n"
    assert apply_edits(text, [TextEdit(2, 0, 2, 1, "c")]) == "a = 1\x0c  # form feed\r\nc = 2\n"


# --- the command line --------------------------------------------------------------------

FILES = {"proj/__init__.py": "", "proj/tasks.py": BIND.replace("@app.task()\ndef c(self):", "@app.task(bind=True)\ndef c():")}


def test_diff_prints_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path / "p", dict(FILES))
    before = (root / "proj/tasks.py").read_bytes()
    assert main([str(root), "--diff"]) == 1
    captured = capsys.readouterr()
    assert (root / "proj/tasks.py").read_bytes() == before
    assert "+@app.task(bind=True)\n" in captured.out and "-@app.task\n" in captured.out
    assert captured.out.startswith("--- ") and "Would fix 2 errors." in captured.err
    assert "CEL014 not fixed: no safe fix" in captured.err  # bind=True without a parameter
    clean = write_project(tmp_path / "clean", {"proj/__init__.py": "", "proj/tasks.py": "x = 1\n"})
    assert main([str(clean), "--diff"]) == 0
    assert capsys.readouterr().out == ""


def test_fix_writes_reports_what_is_left_and_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path / "p", dict(FILES))
    assert main([str(root), "--fix"]) == 1  # the bind=True without a parameter remains
    captured = capsys.readouterr()
    text = (root / "proj/tasks.py").read_text()
    assert "@app.task(bind=True)\ndef a" in text and "max_retries=3, bind=True," in text
    assert captured.out.count("CEL014") == 1 and "def c" in text
    assert "Found 3 errors (2 fixed, 1 remaining)." in captured.err
    assert main([str(root), "--fix"]) == 1
    assert (root / "proj/tasks.py").read_text() == text
    assert "(0 fixed, 1 remaining)" in capsys.readouterr().err
    (root / "proj/tasks.py").write_text(text.replace("def c():", "def c(self):"))
    assert main([str(root), "--fix", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_unsafe_fixes_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = 'from celery import shared_task\n\n\n@shared_task(ignore_results=True, time_limit=9)\ndef ping():\n    return 1\n'
    root = write_project(tmp_path / "p", {"proj/__init__.py": "", "proj/tasks.py": source})
    assert main([str(root), "--fix"]) == 1
    assert (root / "proj/tasks.py").read_text() == source
    assert "1 hidden fix can be enabled with the `--unsafe-fixes` option" in capsys.readouterr().err
    assert main([str(root), "--fix", "--unsafe-fixes"]) == 0
    assert "ignore_result=True" in (root / "proj/tasks.py").read_text()
    assert main([str(root), "--unsafe-fixes"]) == 2


def test_fix_invalidates_the_results_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_project(tmp_path / "p", dict(FILES))
    monkeypatch.chdir(root)
    cache = str(tmp_path / "cache")
    assert main([".", "--cache-dir", cache]) == 1
    assert capsys.readouterr().out.count("CEL014") == 3
    assert main([".", "--cache-dir", cache, "--fix"]) == 1
    capsys.readouterr()
    assert main([".", "--cache-dir", cache]) == 1
    assert capsys.readouterr().out.count("CEL014") == 1


def test_fix_from_stdin_prints_the_fixed_source(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    root = write_project(tmp_path / "p", dict(FILES))
    before = (root / "proj/tasks.py").read_bytes()
    monkeypatch.chdir(root)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(before)))
    assert main(["-", "--stdin-filename", "proj/tasks.py", "--fix"]) == 1
    captured = capsys.readouterr()
    assert "@app.task(bind=True)\ndef a" in captured.out and "CEL014" in captured.err
    assert (root / "proj/tasks.py").read_bytes() == before


def test_fix_passes_stop_when_a_fix_undoes_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixer that flips a name back and forth must not loop: the passes stop at a text seen before."""
    from celerylint.fixes import Fix, FixPlan
    from celerylint.fixes import apply as fix_apply

    root = write_project(tmp_path / "p", {"proj/__init__.py": "", "proj/tasks.py": "x = 1\n" + FILES["proj/tasks.py"]})
    calls = []

    def flip(analysis, findings, unsafe=False):  # type: ignore[no-untyped-def]
        calls.append(1)
        text = (analysis.overrides.get(root / "proj/tasks.py") or (root / "proj/tasks.py").read_bytes()).decode()
        edit = TextEdit(1, 0, 1, 1, "y" if text.startswith("x") else "x")
        return FixPlan((Fix("proj/tasks.py", "flip", (edit,), tuple(findings[:1]), True),), ())

    monkeypatch.setattr(fix_apply, "plan_fixes", flip)
    outcome = fix_apply.fix_run([root], _settings_for, jobs=1)
    assert 2 <= len(calls) < fix_apply.MAX_PASSES
    assert [text[:6] for text in outcome.after.values()] == ["y = 1\n"]


def test_fix_writes_only_the_named_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A finding reported for a named file (through its related app) may sit in another file:
    that file is left alone, and the finding says why it was not fixed."""
    files = {
        "proj/__init__.py": "",
        "proj/celeryconfig.py": "BROKER_URL = 'redis://'\nresult_backend = 'redis://'\ntask_acks_late = True\n",
        "proj/celery_app.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n',
    }
    root = write_project(tmp_path / "p", dict(files))
    assert main([str(root / "proj/celery_app.py"), "--fix"]) == 1
    assert (root / "proj/celeryconfig.py").read_text() == files["proj/celeryconfig.py"]
    assert "CEL011 not fixed: its file is not among the paths named" in capsys.readouterr().err
    assert main([str(root), "--fix"]) == 0
    assert (root / "proj/celeryconfig.py").read_text().startswith("broker_url = 'redis://'\n")


def test_diff_from_stdin(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    root = write_project(tmp_path / "p", dict(FILES))
    monkeypatch.chdir(root)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(FILES["proj/tasks.py"].replace("def a(", "def a2(").encode())))
    assert main(["-", "--stdin-filename", "proj/tasks.py", "--diff", "--exit-zero"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("--- proj/tasks.py\n+++ proj/tasks.py\n") and "+@app.task(bind=True)\n def a2(" in out
    assert (root / "proj/tasks.py").read_text() == FILES["proj/tasks.py"]


def test_mentions_count_reads_and_bindings_not_written_keys_nor_environment_names() -> None:
    from celerylint.fixes.keys import mentions
    from celerylint.fixes.source import Source

    text = (
        "import os\n"
        "BROKER_URL = os.environ.get('BROKER_URL', os.environ['BROKER_URL'])\n"  # 1: the binding
        "app.conf.update(BROKER_URL=1, other={'BROKER_URL': 2})\n"  # written keys: 0
        "app.conf.BROKER_URL = 3\n"
        "app.conf['BROKER_URL'] = 4\n"
        "print(BROKER_URL, conf['BROKER_URL'], settings.BROKER_URL)\n"  # 3 reads
    )
    assert mentions(Source("m.py", text), "BROKER_URL") == 4


def test_the_contract_module_does_not_load_libcst() -> None:
    """The editor server and the command line import the contract freely: libcst (and the
    fixers) load only when fixes are asked for."""
    import subprocess
    import sys

    code = "import sys, celerylint.fixes, celerylint.cli; print('libcst' in sys.modules, 'celerylint.fixes.source' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_a_file_that_is_not_utf8_is_left_alone_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path, {
        "pyproject.toml": "",
        "proj/__init__.py": "",
        "proj/tasks.py": "from celery import Celery\napp = Celery('p', task_time_limit=5)\n\n\n@app.task\ndef other(x):\n    return x\n",
    })
    latin = root / "proj" / "views.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\nfrom proj.tasks import other\n\n\ndef caf\xe9():\n    other.delay(1, eta=None)\n")
    before = latin.read_bytes()
    assert main([str(root), "--fix"]) == 1
    err = capsys.readouterr().err
    assert "CEL022 not fixed: the file cannot be read as UTF-8" in err
    assert latin.read_bytes() == before
