"""Property tests: no input makes the pipeline raise; bad input is a reported CEL000."""

from __future__ import annotations

import os
from pathlib import Path

import hypothesmith
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celerylint.config import Settings
from celerylint.engine import run
from celerylint.facts import facts_from_bytes
from tests.conftest import write_project

CELERY_PRELUDE = "from celery import Celery, shared_task\nfrom flask import current_app\n"
# CI explores the same examples every run (a red build must be reproducible); locally,
# `CELERYLINT_FUZZ=1 pytest tests/test_properties.py` explores new ones.
DERANDOMIZE = os.environ.get("CELERYLINT_FUZZ") != "1"


@settings(max_examples=150, deadline=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    facts = facts_from_bytes(data)
    assert facts.syntax_error is None or facts.syntax_error.line >= 1


@settings(max_examples=150, deadline=None, derandomize=DERANDOMIZE)
@given(st.text(max_size=300))
def test_random_text_with_celery_tokens_never_raises(text: str) -> None:
    facts_from_bytes((CELERY_PRELUDE + text).encode("utf-8", "surrogatepass"))


@settings(
    max_examples=40, deadline=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(hypothesmith.from_grammar())
def test_valid_programs_give_facts(source: str) -> None:
    facts = facts_from_bytes((CELERY_PRELUDE + source).encode("utf-8", "surrogatepass"))
    if facts.syntax_error is not None:
        # Only what CPython itself rejects (hypothesmith's grammar is looser) may fail.
        try:
            compile(CELERY_PRELUDE + source, "<fuzz>", "exec")
        except (SyntaxError, ValueError):
            return
        raise AssertionError(f"valid program reported as {facts.syntax_error}")


@settings(
    max_examples=25,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.text(max_size=120), min_size=1, max_size=3))
def test_whole_pipeline_on_random_projects(tmp_path_factory, sources) -> None:  # type: ignore[no-untyped-def]
    root: Path = tmp_path_factory.mktemp("fuzz")
    files = {f"pkg/m{i}.py": CELERY_PRELUDE + text for i, text in enumerate(sources)}
    files["pkg/__init__.py"] = ""
    files["Procfile"] = "worker: celery -A pkg.m0 worker\n"
    write_project(root, files)
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    assert all(f.code.startswith("CEL") for f in findings)
