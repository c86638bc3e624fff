"""What every fixer gets: the analysis, its sources, and how to say what it did or could not do."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional, Sequence, Tuple, Union

from celerylint.findings import Finding
from celerylint.fixes import Fix, TextEdit, Unfixed
from celerylint.fixes.source import Sources

if TYPE_CHECKING:
    from celerylint.engine import Analysis

Outcome = Union[Fix, Unfixed]


@dataclass
class FixContext:
    analysis: "Analysis"
    safe: bool  # whether the fixer at hand makes safe fixes
    sources: Sources  # shared by the fixers of one plan: each file read and parsed once

    def fix(self, path: str, title: str, edits: Sequence[TextEdit], findings: Sequence[Finding]) -> Fix:
        return Fix(path, title, tuple(sorted(set(edits))), tuple(findings), self.safe)


def suggested(finding: Finding, named: "re.Pattern[str]", hint: "re.Pattern[str]") -> Optional[Tuple[str, str]]:
    """(the name written, the one spelling suggested) of a did-you-mean finding: the rule's
    message names the first (group 1), its hint the second (group 1), or None."""
    written, suggestion = named.match(finding.message), hint.match(finding.fix_hint)
    if written is None or suggestion is None:
        return None
    return written.group(1), suggestion.group(1)


def unfixed(findings: Sequence[Finding], why: str) -> List[Unfixed]:
    return [Unfixed(finding, why) for finding in findings]


Fixer = Callable[[FixContext, List[Finding]], Iterator[Outcome]]
