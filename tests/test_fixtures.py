"""Every fixture project yields exactly the findings marked `# expect: CODE` in its source."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Set, Tuple

import pytest

from celerylint.config import Overrides, settings_from
from celerylint.engine import run_all
from tests.conftest import FIXTURES

MARK = re.compile(r"#\s*expect:\s*(CEL\d{3}(?:\s*,\s*CEL\d{3})*)")
Expectation = Set[Tuple[str, int, str]]


def expected_findings(root: Path) -> Expectation:
    found: Expectation = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = MARK.search(line)
            if match:
                for code in match.group(1).split(","):
                    found.add((rel, number, code.strip()))
    return found


def actual_findings(root: Path) -> Expectation:
    """Findings of every project under root (a monorepo fixture holds several), by path from root."""
    result = run_all([root], lambda project_root: settings_from(project_root, Overrides()), jobs=1)
    found: Expectation = set()
    for analysis, findings in result.projects:
        for f in findings:
            found.add(((analysis.root / f.path).relative_to(root).as_posix(), f.line, f.code))
    return found


FIXTURE_DIRS = sorted(p for p in FIXTURES.iterdir() if p.is_dir()) if FIXTURES.is_dir() else []


@pytest.mark.parametrize("root", FIXTURE_DIRS, ids=[p.name for p in FIXTURE_DIRS])
def test_fixture_findings_match_markers(root: Path, tmp_path: Path) -> None:
    # A copy outside this repository: a fixture without a project marker must not find ours above it.
    copy = tmp_path / root.name
    shutil.copytree(root, copy)
    expected = expected_findings(copy)
    actual = actual_findings(copy)
    assert sorted(actual - expected) == [], "unexpected findings"
    assert sorted(expected - actual) == [], "missing findings"
