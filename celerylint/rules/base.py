"""What a rule is: metadata, docs and examples that travel with its check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, Tuple

from celerylint.facts.types import Loc
from celerylint.findings import Finding, Related
from celerylint.model.project import Project


def finding_at(code: str, path: str, loc: Loc, message: str, related: Sequence[Related] = ()) -> Finding:
    return Finding(path, loc.line, loc.col, code, message, loc.end_line, loc.end_col, tuple(related))


def related_at(path: str, line: int, col: int, message: str) -> Related:
    return Related(path, line, col, message)


@dataclass(frozen=True)
class Example:
    """A small project: file name -> source. `bad` examples must trigger the rule, `good` must not."""

    files: Tuple[Tuple[str, str], ...]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    what: str
    why: str
    fix: str
    bad: Example
    good: Example
    check: Callable[[Project], Iterable[Finding]]

    def explain(self, heading: str = "##") -> str:
        def show(example: Example) -> str:
            return "\n".join(f"# {name}\n{source.rstrip()}\n" for name, source in example.files)

        return (
            f"{self.code} ({self.name})\n\n{self.summary}\n\n"
            f"{heading} What it does\n{self.what}\n\n{heading} Why is this bad?\n{self.why}\n\n"
            f"{heading} Example\n```python\n{show(self.bad)}```\n\n{heading} Use instead\n{self.fix}\n\n"
            f"```python\n{show(self.good)}```\n"
        )


def example(*files: Tuple[str, str]) -> Example:
    return Example(tuple(files))
