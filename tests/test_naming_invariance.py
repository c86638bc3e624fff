"""The same answer however a file is named: a property test over random project trees.

Each example builds a tree (project markers at random depths or none, nested packages,
namespace folders, `src/` layouts, two projects side by side with the same package name,
symlinks), then lints every Python file in every way a user or a tool names it: `.` from the
top, the file, its folder, from inside its folder with a relative path, `-` with
`--stdin-filename`, and the flake8 plugin. Each run has a hard timeout. The findings located in
the file must be identical in all of them.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from celerylint import flake8_plugin
from celerylint.cli import main
from tests.test_properties import DERANDOMIZE

RUN_TIMEOUT_SECONDS = 20
Finding = Tuple[str, int, str]  # (absolute path, line, code)

MARKERS = ("pyproject.toml", "setup.cfg", "setup.py")


@dataclass(frozen=True)
class ProjectSpec:
    package: str
    src_layout: bool
    namespace_folder: bool  # a folder without __init__.py inside the package
    nested_package: bool
    backend: bool
    include_tasks: bool
    time_limit: bool
    reads_result: bool
    worker_command: bool
    unregistered_module: bool
    symlink_inside: bool


@dataclass(frozen=True)
class TreeSpec:
    marker: Optional[str]  # None: no marker anywhere
    marker_depth: int  # 0: at the top folder; 1: in a sub-folder holding the project
    projects: Tuple[ProjectSpec, ...]  # two: side by side, each with its own marker
    outside_link: bool
    loop_link: bool


def _project_files(spec: ProjectSpec) -> Dict[str, str]:
    base = f"src/{spec.package}" if spec.src_layout else spec.package
    pkg = spec.package
    deep = f"{pkg}.jobs.deep" if spec.nested_package else f"{pkg}.jobs"
    include = [f"{pkg}.tasks"] if spec.include_tasks else []
    if spec.nested_package:
        include.append(deep)
    backend = ', backend="redis://"' if spec.backend else ""
    limit = "(time_limit=30)" if spec.time_limit else ""
    files = {
        f"{base}/__init__.py": "",
        f"{base}/celery_app.py": f'from celery import Celery\n\napp = Celery("{pkg}", broker="redis://"{backend}, include={include!r})\n',
        f"{base}/tasks.py": f"from {pkg}.celery_app import app\n\n\n@app.task{limit}\ndef work(item_id):\n    return item_id\n",
    }
    body = "    return work.delay(item_id).get()\n" if spec.reads_result else "    work.delay(item_id)\n"
    files[f"{base}/views.py"] = f"from {pkg}.tasks import work\n\n\ndef view(item_id):\n{body}"
    if spec.nested_package:
        files[f"{base}/jobs/__init__.py"] = ""
        files[f"{base}/jobs/deep.py"] = f"from {pkg}.celery_app import app\n\n\n@app.task{limit}\ndef deep(x):\n    return x\n"
    if spec.namespace_folder:
        files[f"{base}/plugins/extra.py"] = f"from {pkg}.celery_app import app\n\n\n@app.task{limit}\ndef extra(x):\n    return x\n"
    if spec.unregistered_module:
        files[f"{base}/stray.py"] = f"from {pkg}.celery_app import app\n\n\n@app.task(time_limit=5)\ndef stray(x):\n    return x\n"
    if spec.worker_command:
        files["Procfile"] = f"worker: celery -A {pkg}.celery_app worker\n"
    return files


def _write(top: Path, tree: TreeSpec) -> None:
    project_dirs: List[Path] = []
    if len(tree.projects) == 2:
        project_dirs = [top / "services" / "one", top / "services" / "two"]
    else:
        project_dirs = [top / "app" if tree.marker_depth else top]
    for folder, spec in zip(project_dirs, tree.projects):
        folder.mkdir(parents=True, exist_ok=True)
        marker = tree.marker or (MARKERS[0] if len(tree.projects) == 2 else None)
        if marker is not None:
            (folder / marker).write_text('[project]\nname = "x"\n' if marker.endswith(".toml") else "")
        for rel, text in _project_files(spec).items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if spec.symlink_inside:
            base = folder / ("src" if spec.src_layout else "") / spec.package
            (base / "alias.py").symlink_to(base / "tasks.py")
    if tree.outside_link:
        outside = Path(tempfile.mkdtemp()) / "ext.py"
        outside.write_text("from celery import shared_task\n\n\n@shared_task\ndef ext():\n    pass\n")
        (project_dirs[0] / "ext.py").symlink_to(outside)
    if tree.loop_link:
        (project_dirs[0] / "loop").symlink_to(project_dirs[0])


projects = st.builds(
    ProjectSpec,
    package=st.sampled_from(["shop", "app", "proj"]),
    src_layout=st.booleans(),
    namespace_folder=st.booleans(),
    nested_package=st.booleans(),
    backend=st.booleans(),
    include_tasks=st.booleans(),
    time_limit=st.booleans(),
    reads_result=st.booleans(),
    worker_command=st.booleans(),
    unregistered_module=st.booleans(),
    symlink_inside=st.booleans(),
)


@st.composite
def trees(draw: st.DrawFn) -> TreeSpec:
    side_by_side = draw(st.booleans())
    marker = draw(st.sampled_from([None, *MARKERS]))
    spec = draw(projects)
    if side_by_side:
        # Two projects with the same package name, each with a marker of its own.
        other = draw(projects)
        return TreeSpec(marker, 1, (spec, ProjectSpec(spec.package, *list(other.__dict__.values())[1:])), draw(st.booleans()), draw(st.booleans()))
    if marker is None and spec.src_layout:
        # With no marker, `src/` is no package: `python -m` from the top could not import it, so a
        # src layout without a marker has no single answer. Markers make src layouts meaningful.
        spec = ProjectSpec(spec.package, False, *list(spec.__dict__.values())[2:])
    return TreeSpec(marker, draw(st.integers(0, 1)), (spec,), draw(st.booleans()), draw(st.booleans()))


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"a celerylint run did not finish in {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _cli(cwd: Path, args: List[str], stdin: bytes = b"") -> Set[Finding]:
    previous_cwd = os.getcwd()
    previous_stdout, previous_stdin = sys.stdout, sys.stdin
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    sys.stdout = out
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    os.chdir(cwd)
    try:
        with _deadline(RUN_TIMEOUT_SECONDS):
            code = main(args + ["--no-cache", "--jobs", "1"])
    finally:
        os.chdir(previous_cwd)
        sys.stdout, sys.stdin = previous_stdout, previous_stdin
    assert code in (0, 1), f"celerylint {args} in {cwd} exited {code}"
    out.flush()
    found: Set[Finding] = set()
    for line in out.buffer.getvalue().decode().splitlines():  # type: ignore[attr-defined]
        path, number, _, rest = line.split(":", 3)
        found.add((os.path.normpath(cwd / path), int(number), rest.split()[0]))
    return found


def _flake8(path: Path) -> Set[Finding]:
    flake8_plugin._project_findings.cache_clear()
    lines = path.read_text().splitlines(keepends=True)
    with _deadline(RUN_TIMEOUT_SECONDS):
        reports = list(flake8_plugin.CeleryLintPlugin(None, str(path), lines).run())
    return {(str(path), line, text.split()[0]) for line, _, text, _ in reports}


def _python_files(top: Path) -> List[Path]:
    found = []
    for folder, dirs, files in os.walk(top):  # symlinked folders are not followed, as celerylint does
        found.extend(Path(folder) / name for name in files if name.endswith(".py"))
    return sorted(found)


def _ways(top: Path, path: Path) -> Dict[str, Set[Finding]]:
    rel = path.relative_to(top)
    folder = path.parent
    located = str(path)
    ways = {
        "`.` from the top": _cli(top, ["."]),
        "the file": _cli(top, [str(rel)]),
        "its folder": _cli(top, [str(rel.parent)]),
        "from inside its folder": _cli(folder, [path.name]),
        "stdin": _cli(top, ["-", "--stdin-filename", str(rel)], path.read_bytes()),
        "flake8": _flake8(path),
    }
    return {way: {f for f in found if f[0] == located} for way, found in ways.items()}


EVERYTHING = ProjectSpec("shop", False, True, True, False, False, False, True, True, True, True)
SRC = ProjectSpec("app", True, True, False, True, True, False, True, True, True, False)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@example(TreeSpec(None, 0, (EVERYTHING,), True, True))  # no marker anywhere: the reported hang
@example(TreeSpec(None, 1, (EVERYTHING,), False, False))
@example(TreeSpec("pyproject.toml", 0, (SRC,), False, True))
@example(TreeSpec("setup.cfg", 1, (EVERYTHING, ProjectSpec("shop", *list(SRC.__dict__.values())[1:])), True, False))
@settings(
    max_examples=12 if DERANDOMIZE else 200,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(trees())
def test_every_way_of_naming_a_file_gives_its_same_findings(tree: TreeSpec) -> None:
    top = Path(tempfile.mkdtemp(prefix="celerylint-naming-"))
    _write(top, tree)
    compared = 0
    for path in _python_files(top):
        if path.is_symlink() and not os.path.realpath(path).startswith(str(top)):
            continue  # a link out of the project is skipped every way; nothing to compare
        ways = _ways(top, path)
        reference = ways["`.` from the top"]
        compared += len(reference)
        for way, found in ways.items():
            assert found == reference, f"{path.relative_to(top)}: {way} gave {sorted(found)}, `.` gave {sorted(reference)}"
    if tree.projects[0] == EVERYTHING:
        assert compared >= 4  # the property was checked on real findings, not on empty sets
