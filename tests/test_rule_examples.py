"""Each rule's documented bad example triggers it; its good example is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from celerylint.config import Settings
from celerylint.engine import run
from celerylint.rules import ALL_RULES, Rule
from tests.conftest import write_project


def _codes(root: Path) -> list:
    _, findings = run([root], Settings(), jobs=1)
    return [f.code for f in findings]


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_bad_example_triggers_rule(rule: Rule, tmp_path: Path) -> None:
    root = write_project(tmp_path, dict(rule.bad.files))
    assert rule.code in _codes(root)


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_good_example_is_clean(rule: Rule, tmp_path: Path) -> None:
    root = write_project(tmp_path, dict(rule.good.files))
    assert _codes(root) == []


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_explain_has_every_section(rule: Rule) -> None:
    text = rule.explain()
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in text
