"""The default line says what breaks and why in at most 150 characters; how to fix it is the
finding's fix_hint (`--output-format full` prints it as `help:`), not part of the message."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

import pytest

from celerylint.config import Overrides, Settings, settings_from
from celerylint.engine import run, run_all
from celerylint.findings import Finding
from celerylint.rules import ALL_RULES
from tests.conftest import FIXTURES, write_project

MAX_MESSAGE = 150
INVALID = [(f"{rule.code}-invalid-{number}", case) for rule in ALL_RULES for number, case in enumerate(rule.invalid, 1)]
FIXTURE_DIRS = sorted(p for p in FIXTURES.iterdir() if p.is_dir())


def _check(findings: List[Finding]) -> None:
    assert findings
    for finding in findings:
        message = finding.message
        assert len(message) <= MAX_MESSAGE, f"{finding.code} ({len(message)} characters): {message}"
        assert not message.endswith("."), f"{finding.code}: a message is a phrase, as ruff's: {message}"
        # The advice lives in fix_hint, once: not repeated on every line of the default output.
        assert finding.fix_hint and finding.fix_hint not in message, finding
        for advice in ("Add ", "Use ", "Pass ", "Did you mean", "Send it", "Read the URL", "Let Celery"):
            assert advice not in message, f"{finding.code}: advice in the message: {message}"


@pytest.mark.parametrize("case", [case for _, case in INVALID], ids=[name for name, _ in INVALID])
def test_every_message_of_every_bad_case_is_short(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = write_project(tmp_path / "case", case.files())
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    _check(findings)


@pytest.mark.parametrize("root", FIXTURE_DIRS, ids=[p.name for p in FIXTURE_DIRS])
def test_every_message_of_every_fixture_is_short(root: Path, tmp_path: Path) -> None:
    copy = tmp_path / root.name
    shutil.copytree(root, copy)
    result = run_all([copy], lambda project_root: settings_from(project_root, Overrides(use_cache=False)), jobs=1)
    findings = [finding for _, found in result.projects for finding in found]
    if findings:
        _check(findings)


def test_a_rule_without_a_specific_hint_gives_its_fix(tmp_path: Path) -> None:
    """CEL007 says nothing finding-specific about the fix: the rule's own fix sentence is the hint."""
    rule = next(rule for rule in ALL_RULES if rule.code == "CEL007")
    root = write_project(tmp_path / "case", rule.invalid[0].files())
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    assert [f.fix_hint for f in findings if f.code == "CEL007"] == [rule.fix]
