"""celerylint never imports, executes or writes into the project it analyses."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from celerylint.config import Settings
from celerylint.engine import run
from tests.conftest import FIXTURES, write_project

MARKER = Path("/tmp/celerylint-was-imported")

HOSTILE = {
    "Procfile": "worker: celery -A proj.worker worker\n",
    "proj/__init__.py": 'open("{marker}", "w").write("x")\nimport sys\nsys.exit("imported!")\n',
    "proj/worker.py": (
        "import os\nos.system('touch {marker}')\nwhile True:\n    pass\n"
        "from celery import Celery\napp = Celery('p', broker='redis://', backend='redis://')\n\n\n"
        "@app.task\ndef job():\n    pass\n"
    ),
    "proj/settings.py": "raise RuntimeError('never import me')\nbroker_url = 'redis://'\n",
}


def _snapshot(root: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*")}


def test_hostile_modules_are_read_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "was-imported"
    files = {name: text.format(marker=marker) for name, text in HOSTILE.items()}
    root = write_project(tmp_path / "project", files)
    before = _snapshot(root)
    _, findings = run([root], Settings(), jobs=1)
    assert [f.code for f in findings] == ["CEL006"]
    assert not marker.exists()
    assert "proj" not in sys.modules and "proj.worker" not in sys.modules
    assert _snapshot(root) == before  # nothing written inside the tree


def test_no_side_effects_fixture() -> None:
    root = FIXTURES / "no_side_effects"
    if MARKER.exists():
        MARKER.unlink()
    _, findings = run([root], Settings(), jobs=1)
    assert findings
    assert not MARKER.exists()


def test_read_only_tree(tmp_path: Path) -> None:
    root = write_project(tmp_path / "ro", {"proj/__init__.py": "", "proj/a.py": "from celery import shared_task\n"})
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    try:
        run([root], Settings(), jobs=1)
    finally:
        for path in [root, *root.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
