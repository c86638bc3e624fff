"""What a rule reports: a located message plus the related locations it rests on (a leaf module)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True, order=True)
class Related:
    """Evidence for a finding elsewhere: the result read, the worker command, the setting."""

    path: str  # relative to the project root, posix
    line: int
    col: int
    message: str


@dataclass(frozen=True, order=True)
class Finding:
    path: str  # relative to the project root, posix
    line: int
    col: int
    code: str
    message: str
    end_line: int = 0
    end_col: int = 0
    related: Tuple[Related, ...] = ()
    fix_hint: str = ""  # how to fix it, one sentence (`--output-format full` shows it as help:)

    @property
    def paths(self) -> Tuple[str, ...]:
        """Every file the finding rests on: a run over any of them reports it."""
        return (self.path,) + tuple(item.path for item in self.related)
