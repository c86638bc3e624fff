"""What a rule is: its code and docs, its VALID and INVALID cases, and its check.

A check yields Reports (where and what); the rule stamps them with its code, so the code is
written once. Cases are small projects written as one readable block, in the manner of Fixit's
VALID/INVALID cases: `# --- path` starts a file, `# expect: CODE` at the end of a line pins a
finding there. One test runs every case of every rule.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, Sequence, Set, Tuple

from celerylint.facts.types import Loc
from celerylint.findings import Finding, Related
from celerylint.model.project import Project

FILE_HEADER = re.compile(r"^# --- (?P<path>\S+)\s*$")
EXPECT = re.compile(r"\s*#\s*expect:\s*(?P<codes>CEL\d{3}(?:\s*,\s*CEL\d{3})*)\s*$")


@dataclass(frozen=True)
class Report:
    """What a check finds; its rule adds the code."""

    path: str
    loc: Loc
    message: str  # what breaks and why, with the names and values it rests on (<= 150 characters)
    related: Tuple[Related, ...] = ()
    hint: str = ""  # how to fix this finding; empty: the rule's fix


def report(path: str, loc: Loc, message: str, related: Sequence[Related] = (), hint: str = "") -> Report:
    return Report(path, loc, message, tuple(related), hint)


def related_at(path: str, line: int, col: int, message: str) -> Related:
    return Related(path, line, col, message)


@dataclass(frozen=True)
class Case:
    """A small project in one block (see the module docstring)."""

    text: str

    def _files(self) -> Dict[str, str]:
        files: Dict[str, str] = {}
        current = None
        for line in textwrap.dedent(self.text).strip("\n").splitlines():
            header = FILE_HEADER.match(line)
            if header:
                current = header.group("path")
                files[current] = ""
            elif current is not None:
                files[current] += line + "\n"
        return {path: text.strip("\n") + "\n" if text.strip() else "" for path, text in files.items()}

    def files(self) -> Dict[str, str]:
        """File path -> source, as written (expect markers included: they are comments)."""
        return self._files()

    def expected(self) -> Set[Tuple[str, int, str]]:
        """(path, line, code) of every pinned finding."""
        found: Set[Tuple[str, int, str]] = set()
        for path, text in self._files().items():
            for number, line in enumerate(text.splitlines(), 1):
                match = EXPECT.search(line)
                if match:
                    found.update((path, number, code.strip()) for code in match.group("codes").split(","))
        return found

    def shown(self) -> str:
        """The block as documentation: each file under a `# path` line, markers dropped."""
        parts = []
        for path, text in self._files().items():
            body = "\n".join(EXPECT.sub("", line) for line in text.rstrip("\n").splitlines())
            parts.append(f"# {path}\n{body}\n")
        return "\n".join(parts)


def case(text: str) -> Case:
    return Case(text)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    what: str
    why: str
    fix: str
    invalid: Tuple[Case, ...]  # each must give exactly its pinned findings of this code
    valid: Tuple[Case, ...]  # each must give no finding of this code
    check: Callable[[Project], Iterable[Report]]
    # "safe": `--fix` applies it; "unsafe": only with `--unsafe-fixes` (it may change what the
    # code does, e.g. a did-you-mean spelling); "": no automatic fix (celerylint/fixes/).
    autofix: str = ""

    @property
    def fix_shown(self) -> str:
        """How --explain and docs/rules.md say whether the rule has a fix."""
        if self.autofix == "safe":
            return "Fix is sometimes available: `--fix` applies it (safe), `--diff` shows it.\n\n"
        if self.autofix == "unsafe":
            return "Fix is sometimes available: only with `--fix --unsafe-fixes` (unsafe: it may change what the code does).\n\n"
        return ""

    def run(self, project: Project) -> Iterator[Finding]:
        for item in self.check(project):
            loc = item.loc
            hint = item.hint or self.fix
            yield Finding(item.path, loc.line, loc.col, self.code, item.message, loc.end_line, loc.end_col, item.related, hint)

    def explain(self, heading: str = "##") -> str:
        return (
            f"{self.code} ({self.name})\n\n{self.summary}\n\n{self.fix_shown}"
            f"{heading} What it does\n{self.what}\n\n{heading} Why is this bad?\n{self.why}\n\n"
            f"{heading} Example\n```python\n{self.invalid[0].shown()}```\n\n{heading} Use instead\n{self.fix}\n\n"
            f"```python\n{self.valid[0].shown()}```\n"
        )
