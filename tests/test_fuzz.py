"""Fuzzing the whole pipeline: mutated fixture files and generated programs, in a real project.

CI runs a fixed set of examples (derandomized, so a red build reproduces);
`CELERYLINT_FUZZ=1 pytest tests/test_fuzz.py` explores new ones.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import List, Tuple

import hypothesmith
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celerylint.config import Settings
from celerylint.engine import run_all
from celerylint.rules import ALL_CODES
from tests.conftest import FIXTURES
from tests.test_properties import DERANDOMIZE

FIXTURE_FILES: List[Tuple[str, str]] = sorted(
    (fixture.name, path.relative_to(fixture).as_posix())
    for fixture in FIXTURES.iterdir()
    if fixture.is_dir()
    for path in fixture.rglob("*")
    if path.is_file() and path.name != "inspect.json"
)


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """A few edits of the kinds a half-typed or damaged file has: cuts, insertions, overwrites."""
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "insert", "overwrite", "duplicate"]))
        piece = draw(st.one_of(st.binary(max_size=12), st.sampled_from([b"(", b"\"\"\"", b"\\", b"\r", b"\x00", b"\xff", b"    ", b"@app.task\n", b"def f(:"])))
        if kind == "cut":
            data = data[:at] + data[at + draw(st.integers(1, 40)) :]
        elif kind == "insert":
            data = data[:at] + piece + data[at:]
        elif kind == "overwrite":
            data = data[:at] + piece + data[at + len(piece) :]
        else:
            data = data[:at] + data[at : at + 60] + data[at:]
    return data


def _lint(root: Path) -> None:
    result = run_all([root], lambda project: Settings(use_cache=False), jobs=1)
    for analysis, findings in result.projects:
        for finding in findings:
            assert finding.code in ALL_CODES
            assert finding.line >= 1 and finding.col >= 1
            assert (analysis.root / finding.path).is_file()


@settings(max_examples=60 if DERANDOMIZE else 2000, deadline=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FIXTURE_FILES), st.data())
def test_mutated_fixture_files_through_the_whole_pipeline(target: Tuple[str, str], data: st.DataObject) -> None:
    fixture, rel = target
    copy = Path(tempfile.mkdtemp(prefix="celerylint-fuzz-")) / fixture
    try:
        shutil.copytree(FIXTURES / fixture, copy)
        path = copy / rel
        path.write_bytes(data.draw(mutations(path.read_bytes())))
        _lint(copy)
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)


@settings(
    max_examples=25 if DERANDOMIZE else 500,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(hypothesmith.from_grammar())
def test_generated_programs_inside_a_celery_project(source: str) -> None:
    copy = Path(tempfile.mkdtemp(prefix="celerylint-fuzz-")) / "proj"
    try:
        shutil.copytree(FIXTURES / "flask_celery_init_app", copy)
        (copy / "task_app" / "generated.py").write_bytes(("from task_app import tasks\n" + source).encode("utf-8", "surrogatepass"))
        _lint(copy)
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)
