"""Fixes for findings: text edits computed on demand (by ``--fix``/``--diff`` and the editor
server's code actions), never during a plain run, so linting stays as fast without them.

The contract shared by the command line and the editor server:
- ``fixes_for(analysis, findings, unsafe)`` returns the fixes available for those findings.
- A ``Fix`` resolves one or more findings of one file with non-overlapping ``TextEdit``s.
- ``apply_edits(text, edits)`` returns the fixed text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Sequence, Tuple

from celerylint.findings import Finding

if TYPE_CHECKING:
    from celerylint.engine import Analysis


@dataclass(frozen=True, order=True)
class TextEdit:
    """Replace the text from (start_line, start_col) to (end_line, end_col) with ``new_text``.
    Lines are 1-based, columns 0-based counts of characters (code points) in the line."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int
    new_text: str


@dataclass(frozen=True)
class Fix:
    """Edits to one file (``path`` relative to the project root, posix, like Finding.path)
    that resolve ``findings``; ``safe`` fixes keep behaviour as the user meant it,
    unsafe ones (a did-you-mean spelling) may change it."""

    path: str
    title: str  # what the fix does, for `--fix` output and the editor's code action menu
    edits: Tuple[TextEdit, ...]
    findings: Tuple[Finding, ...]
    safe: bool


# Python's own line breaks: str.splitlines also breaks at \f, \x1c, \u2028..., which are no
# line ends to Python, libcst or the line numbers of findings.
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _offset(lines: List[str], line: int, col: int) -> int:
    return sum(len(text) for text in lines[: line - 1]) + col


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """The text with every edit applied (edits must not overlap)."""
    lines = _LINES.findall(text)
    out = text
    for edit in sorted(edits, reverse=True):
        start = _offset(lines, edit.start_line, edit.start_col)
        end = _offset(lines, edit.end_line, edit.end_col)
        out = out[:start] + edit.new_text + out[end:]
    return out


@dataclass(frozen=True)
class Unfixed:
    """A finding of a rule that has a fix, left unfixed, and why (`--fix` and `--diff` say so)."""

    finding: Finding
    why: str


@dataclass(frozen=True)
class FixPlan:
    fixes: Tuple[Fix, ...]
    unfixed: Tuple[Unfixed, ...]


def plan_fixes(analysis: "Analysis", findings: Sequence[Finding], unsafe: bool = False) -> FixPlan:
    """The fixes for these findings, and the findings of fixable rules left without one and why."""
    from celerylint.fixes.registry import plan

    return plan(analysis, findings, unsafe)


def fixes_for(analysis: "Analysis", findings: Sequence[Finding], unsafe: bool = False) -> List[Fix]:
    """The fixes available for these findings (safe ones, plus unsafe ones when asked)."""
    return list(plan_fixes(analysis, findings, unsafe).fixes)
