"""celerylint never imports, executes or writes into the project it analyses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

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


READ_ONLY_PROJECT = {
    "Procfile": "worker: celery -A proj.celery_app worker\n",
    "proj/__init__.py": "",
    "proj/celery_app.py": "from celery import Celery\napp = Celery('proj', broker='redis://')\n\n\n@app.task\ndef job():\n    pass\n",
    "proj/views.py": "from proj.celery_app import job\n\n\ndef view():\n    return job.delay().get()\n",
}
READ_ONLY_FINDINGS = [("proj/celery_app.py", 2, "CEL001"), ("proj/celery_app.py", 5, "CEL006")]


def _tree_state(root: Path) -> dict:
    """Every path in the tree (the root included) with what a write would change."""
    state = {}
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        state[path.relative_to(root).as_posix()] = (info.st_mtime_ns, info.st_size, info.st_mode)
    return state


def _changes(before: dict, after: dict) -> list:
    """Paths created, removed or modified between two _tree_state snapshots."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def _set_modes(root: Path, directory: int, file: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chmod(path, directory if path.is_dir() else file)


def test_read_only_tree(tmp_path: Path) -> None:
    """The cache is on (the default): nothing is created, changed or removed inside the tree,
    and the findings are the ones a writable tree gives. (As root, chmod restricts nothing:
    the snapshot is what proves no write; the next test checks real permissions.)"""
    root = write_project(tmp_path / "ro", dict(READ_ONLY_PROJECT))
    _set_modes(root, 0o555, 0o444)
    try:
        before = _tree_state(root)
        for _ in range(2):  # the second run reads the cache the first one wrote
            _, findings = run([root], Settings(), jobs=1)
            assert [(f.path, f.line, f.code) for f in findings] == READ_ONLY_FINDINGS
        after = _tree_state(root)
    finally:
        _set_modes(root, 0o755, 0o644)
    assert _changes(before, after) == []


def _unprivileged_user():  # type: ignore[no-untyped-def]
    """(uid, gid) of `nobody` when the tests run as root and can drop to it, else a skip reason."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not running as root: test_read_only_tree's chmod already restricts this user"
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return "running as root, but setpriv (util-linux) is missing to drop to an unprivileged user"
    try:
        import pwd

        user = pwd.getpwnam("nobody")
    except (ImportError, KeyError):
        return "running as root, but there is no `nobody` user to drop to"
    return setpriv, user.pw_uid, user.pw_gid


def test_read_only_tree_for_an_unprivileged_user(tmp_path: Path) -> None:
    """The CLI run as `nobody` on a tree it may read but not write: same findings, no error."""
    found = _unprivileged_user()
    if isinstance(found, str):
        pytest.skip(found)
    setpriv, uid, gid = found
    drop = [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    # pytest's tmp_path sits in a 0700 folder of root's: `nobody` needs a world-readable one.
    base = Path(tempfile.mkdtemp(prefix="celerylint-ro-"))
    try:
        os.chmod(base, 0o755)
        root = write_project(base / "project", dict(READ_ONLY_PROJECT))
        cache = base / "cache"
        cache.mkdir()
        os.chown(cache, uid, gid)
        env = {**os.environ, "CELERYLINT_CACHE_DIR": str(cache), "HOME": str(cache), "PYTHONDONTWRITEBYTECODE": "1"}
        _set_modes(root, 0o555, 0o444)
        before = _tree_state(root)
        # From the project folder, as the real run: from the checkout, `-c` would find the source.
        probe = subprocess.run(
            [*drop, sys.executable, "-c", "import celerylint.cli, celery, libcst"], cwd=root, env=env, capture_output=True, text=True
        )
        if probe.returncode != 0:
            pytest.skip(f"`nobody` cannot run this interpreter and celerylint: {probe.stderr.strip()[-200:]}")
        denied = subprocess.run([*drop, "touch", str(root / "proj" / "probe")], env=env, capture_output=True)
        assert denied.returncode != 0, "the tree is writable for `nobody`: this test would prove nothing"
        for _ in range(2):  # the second run reads the cache the first one wrote
            result = subprocess.run(
                [*drop, sys.executable, "-m", "celerylint", ".", "--format", "json"],
                cwd=root, env=env, capture_output=True, text=True, timeout=120,
            )
            assert result.returncode == 1, result.stdout + result.stderr
            assert result.stderr == ""
            reported = [(item["path"], item["line"], item["code"]) for item in json.loads(result.stdout)]
            assert reported == READ_ONLY_FINDINGS
        assert _changes(before, _tree_state(root)) == []
    finally:
        _set_modes(base, 0o755, 0o644)
        shutil.rmtree(base, ignore_errors=True)


SHADOWING_CELERY = "open({marker!r}, 'w').write('imported')\n"


@pytest.mark.parametrize("entry", [["-m", "celerylint", "."], ["-m", "flake8", "--select", "CEL", "mysite/tasks.py"]])
def test_ground_truth_never_comes_from_the_project(tmp_path: Path, entry: list) -> None:  # type: ignore[type-arg]
    """An ordinary Django layout has mysite/celery.py; run from inside it, the current folder is
    first on sys.path. With a cold settings snapshot Celery's table must still come from the
    installed Celery, and a stray celery-*.dist-info must not choose the snapshot's file name."""
    marker = tmp_path / "marker"
    outside = tmp_path / "escaped"
    root = write_project(
        tmp_path / "mysite",
        {
            "celery.py": SHADOWING_CELERY.format(marker=str(marker)),
            "kombu.py": SHADOWING_CELERY.format(marker=str(marker)),
            "celery-9.9.dist-info/METADATA": f"Metadata-Version: 2.1\nName: celery\nVersion: /../../../../{outside}\n",
            "mysite/__init__.py": "",
            "mysite/tasks.py": "from celery import Celery\n\napp = Celery('m', broker_url='redis://', task_time_limt=3)\n\n\n@app.task\ndef job():\n    pass\n",
        },
    )
    cache = tmp_path / "cache"
    env = {**os.environ, "CELERYLINT_CACHE_DIR": str(cache), "PYTHONPATH": str(root)}
    result = subprocess.run([sys.executable, *entry], cwd=root, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CEL006" in result.stdout
    assert not marker.exists()
    assert not outside.exists() and not any(outside.parent.glob("escaped*"))
    assert [p.name for p in cache.glob("celery-settings-*")] == ["celery-settings-unknown.json"] or all(
        "9.9" not in p.name and "/" not in p.name for p in cache.glob("celery-settings-*")
    )


def test_a_hostile_installed_version_never_reaches_a_file_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from celerylint import groundtruth

    class Hostile:
        version = "/../../../../tmp/x"

    monkeypatch.setattr(groundtruth, "_dist_info_version", lambda distribution, search: None)
    monkeypatch.setattr(metadata, "distributions", lambda **kwargs: iter([Hostile()]))
    assert groundtruth.installed_version("celery") == "unknown"
    Hostile.version = "5.7.0"
    assert groundtruth.installed_version("celery") == "5.7.0"


def test_the_version_a_dist_info_folder_names_is_the_installed_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The version is read from the `name-version.dist-info` folder (no importlib.metadata on
    every run): the same answer as importlib.metadata for what is installed, names normalized
    as wheels write them, and a folder name that is no version is "unknown"."""
    from importlib import metadata

    from celerylint import groundtruth

    for distribution in ("celery", "kombu", "libcst", "pathspec"):
        expected = [str(found.version) for found in metadata.distributions(name=distribution, path=groundtruth.installed_search_path())]
        assert [groundtruth.installed_version(distribution)] == expected[:1]
    site = tmp_path / "site"
    (site / "flask_sqlalchemy-3.1.1.dist-info").mkdir(parents=True)
    (site / "celery_progress-0.3.dist-info").mkdir()
    (site / "kombu-5.9 x.dist-info").mkdir()
    monkeypatch.setattr(groundtruth, "installed_search_path", lambda: [str(tmp_path / "missing"), str(site)])
    assert groundtruth.installed_version("Flask-SQLAlchemy") == "3.1.1"
    assert groundtruth.installed_version("celery") == "unknown"  # celery_progress is another package
    assert groundtruth.installed_version("kombu") == "unknown"
