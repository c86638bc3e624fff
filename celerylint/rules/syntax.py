"""CEL000: a file that cannot be parsed. The engine reports it (at the parser's position); the
rule carries its code, docs and cases like every other rule."""

from __future__ import annotations

from typing import Iterator

from celerylint.model.project import Project
from celerylint.rules.base import Report, Rule, case


def check(project: Project) -> Iterator[Report]:
    return iter(())  # syntax errors are facts of a file, reported by the engine


CEL000_INVALID = (
    case(
        r'''
# --- proj/half.py
from proj.celery_app import app

x = (  # expect: CEL000
'''
    ),
    case(
        r'''
# --- proj/config.py
CELERY = {  # expect: CEL000
    "broker_url": "redis://",
'''
    ),
)
CEL000_VALID = (
    case(
        r'''
# --- proj/done.py
from proj.celery_app import app

x = (1, 2)
'''
    ),
)


RULE = Rule(
    code="CEL000",
    name="syntax-error",
    summary="A file that cannot be parsed: reported at the parser's position, the run goes on.",
    what=(
        "Reports each Python file that does not parse (or cannot be decoded) with CPython's message "
        "and position, or libcst's when only libcst rejects it. Files that cannot be read at all "
        "(dangling links, devices, no permission) and files over 10 MB are not syntax errors: they "
        "are skipped with one line on stderr."
    ),
    why=(
        "celerylint cannot see what a broken module configures or imports. Where that could change "
        "an answer (the module is imported by a process that runs an app), the affected checks stay "
        "silent, and one notice line names the file and the rules it silenced."
    ),
    fix="Fix the syntax error; a Jinja or cookiecutter template belongs in `exclude`.",
    invalid=CEL000_INVALID,
    valid=CEL000_VALID,
    check=check,
)
