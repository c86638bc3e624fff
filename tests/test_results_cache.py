"""The whole-run answer cache: a run whose inputs did not change prints the stored answer
without parsing or modelling (no libcst import); any change to what the answer depends on
(a file's content, a file added, the settings) computes it again; a broken cache file is ignored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from celerylint.cli import main

BAD = """from celery import Celery

app = Celery("proj", broker="redis://localhost", backend="redis://localhost")


@app.task
def slow():
    return 1
"""
GOOD = BAD.replace('backend="redis://localhost")', 'backend="redis://localhost", task_time_limit=60)')


def _lint(capsys: pytest.CaptureFixture[str], *args: str) -> Tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def _results_files() -> List[Path]:
    return sorted(Path(os.environ["CELERYLINT_CACHE_DIR"]).glob("results-*.json"))


def test_warm_run_answers_without_parsing(project, capsys: pytest.CaptureFixture[str]) -> None:
    root = project({"proj/__init__.py": "", "proj/celery.py": BAD})
    first = _lint(capsys, str(root))
    assert first[0] == 1 and "CEL006" in first[1]
    script = (
        "import sys; from celerylint.cli import main; code = main(sys.argv[1:]); "
        "print('LIBCST' if 'libcst' in sys.modules else 'NO-LIBCST', code)"
    )
    warm = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, env=os.environ.copy())
    assert warm.stdout.splitlines()[-1] == "NO-LIBCST 1"
    assert warm.stdout.replace("NO-LIBCST 1\n", "") == first[1]


def test_changed_file_is_analysed_again_even_within_the_same_timestamp(project, capsys: pytest.CaptureFixture[str]) -> None:
    padded = BAD + "#" * (len(GOOD) - len(BAD))  # as long as GOOD
    root = project({"proj/__init__.py": "", "proj/celery.py": padded})
    assert _lint(capsys, str(root))[0] == 1
    module = root / "proj" / "celery.py"
    stat = module.stat()
    same_size = GOOD
    module.write_text(same_size)
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same time: only the content differs
    code, out = _lint(capsys, str(root))
    assert (code, out) == (0, ""), out


def test_added_file_and_changed_settings_are_seen(project, capsys: pytest.CaptureFixture[str]) -> None:
    root = project({"proj/__init__.py": "", "proj/celery.py": GOOD})
    assert _lint(capsys, str(root)) == (0, "")
    (root / "proj" / "other.py").write_text(BAD.replace('"proj"', '"other"'))
    code, out = _lint(capsys, str(root))
    assert code == 1 and "other.py" in out
    assert _lint(capsys, str(root), "--ignore", "CEL006") == (0, "")
    # The output format is presentation: the stored answer serves it.
    code, out = _lint(capsys, str(root), "--format", "json")
    assert code == 1 and json.loads(out)[0]["code"] == "CEL006"


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"format": 1, "key": 3}', b"\xff\xfe", b'{"format": 1}'])
def test_broken_or_foreign_results_file_is_ignored(project, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    root = project({"proj/__init__.py": "", "proj/celery.py": BAD})
    expected = _lint(capsys, str(root))
    for path in _results_files():
        path.write_bytes(content)
    assert _lint(capsys, str(root)) == expected


def test_forged_results_file_with_another_key_is_not_believed(project, capsys: pytest.CaptureFixture[str]) -> None:
    root = project({"proj/__init__.py": "", "proj/celery.py": BAD})
    expected = _lint(capsys, str(root))
    (path,) = _results_files()
    stored = json.loads(path.read_text())
    stored["key"] = "0" * 40
    stored["projects"][0]["findings"] = []
    path.write_text(json.dumps(stored))
    assert _lint(capsys, str(root)) == expected


def test_no_cache_writes_no_results(project, capsys: pytest.CaptureFixture[str]) -> None:
    root = project({"proj/__init__.py": "", "proj/celery.py": BAD})
    _lint(capsys, str(root), "--no-cache")
    assert _results_files() == []


def test_concurrent_runs_leave_a_usable_answer(project, capsys: pytest.CaptureFixture[str]) -> None:
    root = project({"proj/__init__.py": "", "proj/celery.py": BAD})
    command = [sys.executable, "-m", "celerylint", str(root)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy()) for _ in range(4)]
    outputs = [run.communicate()[0] for run in runs]
    assert len(set(outputs)) == 1 and "CEL006" in outputs[0]
    (path,) = _results_files()
    assert json.loads(path.read_text())["projects"][0]["findings"]  # whole, not interleaved
    assert _lint(capsys, str(root)) == (1, outputs[0])


def test_a_warm_run_keeps_every_field_of_a_finding(project, capsys: pytest.CaptureFixture[str]) -> None:
    """The stored answer round-trips the fix hint and the related locations: `full` reads the same warm."""
    root = project({"proj/__init__.py": "", "proj/celery.py": BAD})
    cold = _lint(capsys, str(root), "--output-format", "full")
    assert cold[0] == 1 and "    help: Add soft_time_limit=" in cold[1] and "    note: " in cold[1]
    assert _results_files()
    warm = subprocess.run(
        [sys.executable, "-m", "celerylint", str(root), "--output-format", "full"], capture_output=True, text=True, env=os.environ.copy()
    )
    assert warm.stdout == cold[1]


def test_a_run_after_one_change_imports_only_what_it_uses(project, capsys: pytest.CaptureFixture[str]) -> None:
    """A run that parses one changed file (as pre-commit makes) needs no process pool, no libcst
    and no OpenSSL: importing them is a tenth of such a run."""
    root = project({"proj/__init__.py": "", "proj/celery.py": BAD, "proj/views.py": "import os\n"})
    assert _lint(capsys, str(root))[0] == 1
    (root / "proj" / "views.py").write_text("import os\nimport re\n")
    script = (
        "import sys; from celerylint.cli import main; code = main(sys.argv[1:]); "
        "print(sorted(m for m in ('libcst', 'concurrent.futures', 'hashlib') if m in sys.modules), code)"
    )
    run = subprocess.run([sys.executable, "-c", script, str(root / "proj" / "views.py")], capture_output=True, text=True, env=os.environ.copy())
    assert run.stdout.splitlines()[-1] == "[] 0", run.stdout + run.stderr
