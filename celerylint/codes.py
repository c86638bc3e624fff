"""Every rule's code and name, without importing the rules: what the fast paths need (validating
`select`/`ignore`, naming rules in a report answered from the results cache) must not load
libcst or Celery. `tests/test_rule_examples.py` checks this table against the rule registry."""

from __future__ import annotations

from typing import Dict

RULE_NAMES: Dict[str, str] = {
    "CEL000": "syntax-error",
    "CEL001": "missing-result-backend",
    "CEL002": "unregistered-task-module",
    "CEL003": "task-needs-app-context",
    "CEL004": "request-context-in-task",
    "CEL005": "unserializable-task-argument",
    "CEL006": "missing-time-limit",
    "CEL007": "result-get-in-task",
    "CEL008": "ignored-result-read",
    "CEL009": "call-signature-mismatch",
    "CEL010": "unknown-setting",
    "CEL011": "mixed-setting-names",
    "CEL012": "pickle-serializer",
    "CEL013": "fixed-task-id",
    "CEL014": "bind-mismatch",
    "CEL015": "worker-app-not-found",
    "CEL016": "secret-in-url",
    "CEL017": "removed-celery-api",
    "CEL018": "queue-without-worker",
    "CEL019": "worker-broker-mismatch",
    "CEL020": "unknown-task-option",
    "CEL021": "unknown-task-name",
    "CEL022": "execution-option-in-delay",
    "CEL023": "dispatch-before-commit",
    "CEL024": "url-for-without-server-name",
    "CEL025": "always-eager-outside-tests",
}
ALL_CODES = tuple(RULE_NAMES)
