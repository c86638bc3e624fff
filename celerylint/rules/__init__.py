"""The rule registry: one module per rule family, each rule with its docs and examples."""

from __future__ import annotations

from typing import Dict, List

from celerylint.rules import (
    compat, context, dispatch, names, options, registration, results, secrets, serialization, settings, signatures, syntax,
    timelimits, transactions, urls, waiting, workers,
)
from celerylint.findings import Finding
from celerylint.rules.base import Rule

# CEL000 first: the engine reports syntax errors; the rule holds their code and docs.
SYNTAX_ERROR = syntax.RULE
ALL_RULES: List[Rule] = [
    SYNTAX_ERROR,
    results.RULE,
    registration.RULE,
    context.APP_CONTEXT_RULE,
    context.REQUEST_CONTEXT_RULE,
    serialization.RULE,
    timelimits.RULE,
    waiting.RULE,
    results.IGNORED_RULE,
    signatures.RULE,
    settings.RULE,
    settings.MIXED_RULE,
    settings.PICKLE_RULE,
    dispatch.RULE,
    signatures.BIND_RULE,
    workers.RULE,
    secrets.RULE,
    compat.RULE,
    workers.QUEUE_RULE,
    workers.BROKER_RULE,
    options.RULE,
    names.RULE,
    signatures.EXECUTION_OPTION_RULE,
    transactions.RULE,
    urls.RULE,
    settings.EAGER_RULE,
]
SYNTAX_ERROR_CODE = SYNTAX_ERROR.code
RULES_BY_CODE: Dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}
ALL_CODES = [rule.code for rule in ALL_RULES]
RULE_NAMES: Dict[str, str] = {rule.code: rule.name for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE", "ALL_CODES", "RULE_NAMES", "SYNTAX_ERROR", "SYNTAX_ERROR_CODE", "Finding", "Rule"]
