"""The rule registry: one module per rule family, each rule with its docs and examples."""

from __future__ import annotations

from typing import Dict, List

from celerylint.rules import context, registration, results, serialization, timelimits
from celerylint.findings import Finding
from celerylint.rules.base import Rule

ALL_RULES: List[Rule] = [
    results.RULE,
    registration.RULE,
    context.APP_CONTEXT_RULE,
    context.REQUEST_CONTEXT_RULE,
    serialization.RULE,
    timelimits.RULE,
]
SYNTAX_ERROR_CODE = "CEL000"
RULES_BY_CODE: Dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}
ALL_CODES = [SYNTAX_ERROR_CODE] + [rule.code for rule in ALL_RULES]

__all__ = ["ALL_RULES", "RULES_BY_CODE", "ALL_CODES", "SYNTAX_ERROR_CODE", "Finding", "Rule"]
