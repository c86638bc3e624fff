"""What every fixer gets: the analysis, its sources, and how to say what it did or could not do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, List, Sequence, Union

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
    sources: Sources = field(init=False)

    def __post_init__(self) -> None:
        self.sources = Sources(self.analysis)

    def fix(self, path: str, title: str, edits: Sequence[TextEdit], findings: Sequence[Finding]) -> Fix:
        return Fix(path, title, tuple(sorted(set(edits))), tuple(findings), self.safe)


def unfixed(findings: Sequence[Finding], why: str) -> List[Unfixed]:
    return [Unfixed(finding, why) for finding in findings]


Fixer = Callable[[FixContext, List[Finding]], Iterator[Outcome]]
