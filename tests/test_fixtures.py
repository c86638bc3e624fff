"""Every fixture project yields exactly the findings marked `# expect: CODE` in its source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Set, Tuple

import pytest

from celerylint.config import Settings
from celerylint.engine import run
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
    _, findings = run([root], Settings(), jobs=1)
    return {(f.path, f.line, f.code) for f in findings}


FIXTURE_DIRS = sorted(p for p in FIXTURES.iterdir() if p.is_dir()) if FIXTURES.is_dir() else []


@pytest.mark.parametrize("root", FIXTURE_DIRS, ids=[p.name for p in FIXTURE_DIRS])
def test_fixture_findings_match_markers(root: Path) -> None:
    expected = expected_findings(root)
    actual = actual_findings(root)
    assert sorted(actual - expected) == [], "unexpected findings"
    assert sorted(expected - actual) == [], "missing findings"
