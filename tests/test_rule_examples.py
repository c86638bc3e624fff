"""Every rule's cases, as Fixit runs VALID and INVALID cases: each INVALID case gives exactly the
findings of that rule pinned with `# expect:`, each VALID case gives none of them. The docs
(--explain, docs/rules.md, the README's table) come from the same registry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Set, Tuple

import pytest

from celerylint.config import Settings
from celerylint.engine import run
from celerylint.rules import ALL_RULES, Rule
from celerylint.rules.base import Case
from tests.conftest import REPO, write_project

CASES: List[Tuple[str, Rule, Case]] = [
    (f"{rule.code}-{kind}-{number}", rule, case)
    for rule in ALL_RULES
    for kind, cases in (("invalid", rule.invalid), ("valid", rule.valid))
    for number, case in enumerate(cases, 1)
]


def _findings(rule: Rule, case: Case, tmp_path: Path) -> Set[Tuple[str, int, str]]:
    root = write_project(tmp_path / "case", case.files())
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    return {(f.path, f.line, f.code) for f in findings if f.code == rule.code}


@pytest.mark.parametrize("rule, case", [(rule, case) for _, rule, case in CASES], ids=[name for name, _, _ in CASES])
def test_case(rule: Rule, case: Case, tmp_path: Path) -> None:
    expected = case.expected()
    assert all(code == rule.code for _, _, code in expected), "a case pins only its own rule's code"
    assert _findings(rule, case, tmp_path) == expected


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_every_rule_has_cases_that_show_it(rule: Rule) -> None:
    assert rule.invalid and rule.valid
    assert all(case.expected() for case in rule.invalid), "an INVALID case pins where the rule fires"
    assert not any(case.expected() for case in rule.valid)


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_explain_has_every_section(rule: Rule) -> None:
    text = rule.explain()
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in text
    assert "# expect:" not in text


def test_the_readme_table_lists_exactly_the_registered_rules() -> None:
    readme = (REPO / "README.md").read_text()
    rows = re.findall(r"^\| (CEL\d{3}) \| ([a-z-]+) \|", readme, re.MULTILINE)
    assert rows == [(rule.code, rule.name) for rule in ALL_RULES]


def test_code_table_matches_the_registry() -> None:
    """The fast paths' table of codes (celerylint.codes) names exactly the registered rules."""
    from celerylint import codes
    from celerylint.rules import ALL_RULES

    assert list(codes.RULE_NAMES.items()) == [(rule.code, rule.name) for rule in ALL_RULES]
