"""Suppression decided in one place: `# noqa`, `# celerylint: skip-file`, `# ruff: noqa`, per-file ignores."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

import pathspec

from celerylint.discover import Matcher
from celerylint.findings import Finding

# As flake8 writes it: `# noqa` alone, or `# noqa: CEL003,CEL005` (codes or prefixes).
NOQA = re.compile(r"#\s*noqa(?::\s?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
SKIP_FILE = re.compile(r"#\s*celerylint:\s*skip-file\b", re.IGNORECASE)
SKIP_FILE_LINES = 50  # "near the top": within the first lines of the file
# As ruff and flake8 write it, on a line of its own anywhere in the file: `# ruff: noqa` skips
# the file; `# ruff: noqa: CEL003,CEL005` (ruff and celerylint only) those codes in the file.
FILE_NOQA = re.compile(
    r"^\s*#\s*(?P<tool>flake8|ruff|celerylint)\s*:\s*noqa\b"
    r"(?:\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?\s*(?:#.*)?$",
    re.IGNORECASE,
)


def suppressed_by_noqa(line: str, code: str) -> bool:
    match = NOQA.search(line)
    if match is None:
        return False
    codes = match.group("codes")
    if not codes:
        return True
    return any(code.startswith(item.upper()) for item in re.split(r"[,\s]+", codes) if item)


def skips_file(lines: Sequence[str]) -> bool:
    if any(SKIP_FILE.search(line) for line in lines[:SKIP_FILE_LINES]):
        return True
    return any((match := FILE_NOQA.match(line)) is not None and not match.group("codes") for line in lines)


def file_noqa_codes(lines: Sequence[str]) -> Tuple[str, ...]:
    """The codes a `# ruff: noqa: CODES` line suppresses in its whole file (flake8 has no such form)."""
    codes: List[str] = []
    for line in lines:
        match = FILE_NOQA.match(line)
        if match is not None and match.group("codes") and match.group("tool").lower() != "flake8":
            codes.extend(item.upper() for item in re.split(r"[,\s]+", match.group("codes")) if item)
    return tuple(codes)


@lru_cache(maxsize=256)
def _spec(glob: str) -> Matcher:
    return pathspec.GitIgnoreSpec.from_lines([glob])


def ignored_for_file(rel: str, code: str, per_file: Sequence[Tuple[str, Tuple[str, ...]]]) -> bool:
    for glob, codes in per_file:
        if any(code.startswith(item) or item == "ALL" for item in codes) and _spec(glob).match_file(rel):
            return True
    return False


def apply(
    findings: List[Finding],
    source_lines: Dict[str, Optional[List[str]]],
    per_file: Sequence[Tuple[str, Tuple[str, ...]]],
    disable_noqa: bool,
) -> List[Finding]:
    kept = []
    file_codes: Dict[str, Tuple[str, ...]] = {}
    for finding in findings:
        if ignored_for_file(finding.path, finding.code, per_file):
            continue
        lines = source_lines.get(finding.path)
        if lines is not None and not disable_noqa:
            if skips_file(lines):
                continue
            if 0 < finding.line <= len(lines) and suppressed_by_noqa(lines[finding.line - 1], finding.code):
                continue
            if finding.path not in file_codes:
                file_codes[finding.path] = file_noqa_codes(lines)
            if any(finding.code.startswith(code) for code in file_codes[finding.path]):
                continue
        kept.append(finding)
    return kept
