"""What a rule is: metadata, docs and examples that travel with its check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Tuple

from celerylint.facts.types import Loc
from celerylint.model.project import Project


@dataclass(frozen=True, order=True)
class Finding:
    path: str  # relative to the project root, posix
    line: int
    col: int
    code: str
    message: str
    end_line: int = 0
    end_col: int = 0

    @classmethod
    def at(cls, code: str, path: str, loc: Loc, message: str) -> "Finding":
        return cls(path, loc.line, loc.col, code, message, loc.end_line, loc.end_col)


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
