"""`--fix` and `--diff`: apply fixes to a run's files until nothing more is fixed (fixing one thing
can reveal another, as in ruff), then say what changed and what is left.

Every pass lints the fixed text as an unsaved buffer, so nothing is written until the end and
`--diff` writes nothing at all. A pass that would make a file unparsable drops that file's fixes;
a file that comes back to a text it had before stops the passes (a loop between two fixes)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

import libcst as cst

from celerylint.discover import absolute, within
from celerylint.engine import Analysis, RunResult, run_all
from celerylint.findings import Finding
from celerylint.fixes import Fix, TextEdit, Unfixed, apply_edits, plan_fixes
from celerylint.fixes.source import read_text
from celerylint.rules import RULES_BY_CODE
from celerylint.runplan import RunPlan, SettingsFor

MAX_PASSES = 6


@dataclass
class FixedRun:
    """What `--fix`/`--diff` did: the run on the fixed text (the findings that remain), each
    changed file's text before and after, how many findings the fixes resolved, the findings of
    fixable rules left unfixed (with why), and how many unsafe fixes were not applied."""

    result: RunResult
    before: Dict[Path, str] = field(default_factory=dict)
    after: Dict[Path, str] = field(default_factory=dict)
    fixed: int = 0
    unfixed: List[Tuple[Analysis, Unfixed]] = field(default_factory=list)
    hidden: int = 0
    notices: List[str] = field(default_factory=list)


def _overlaps(edit: TextEdit, taken: Sequence[TextEdit]) -> bool:
    start, end = (edit.start_line, edit.start_col), (edit.end_line, edit.end_col)
    for other in taken:
        other_start, other_end = (other.start_line, other.start_col), (other.end_line, other.end_col)
        if start < other_end and other_start < end:
            return True
        if start == end == other_start or other_start == other_end == start:
            return True  # two insertions at one place: no order is right for sure
    return False


def _chosen(fixes: Sequence[Fix]) -> List[Fix]:
    """The fixes of one file whose edits do not overlap, first come first served (the others
    are tried again in the next pass, on the fixed text)."""
    taken: List[TextEdit] = []
    chosen: List[Fix] = []
    for fix in fixes:
        if not any(_overlaps(edit, taken) for edit in fix.edits) and not _self_overlapping(fix):
            taken.extend(fix.edits)
            chosen.append(fix)
    return chosen


def _self_overlapping(fix: Fix) -> bool:
    return any(_overlaps(edit, fix.edits[:index]) for index, edit in enumerate(fix.edits))


def _parses(text: str) -> bool:
    try:
        cst.parse_module(text[1:] if text.startswith("\ufeff") else text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return False
    return True


def fix_run(
    paths: Sequence[Path],
    settings_for: SettingsFor,
    jobs: int = 0,
    overrides: Mapping[Path, bytes] = {},
    unsafe: bool = False,
    run_plan: Optional[RunPlan] = None,
) -> FixedRun:
    """Fix the run's files in memory, pass after pass, until no fix applies."""
    current: Dict[Path, bytes] = dict(overrides)
    named = [absolute(path) for path in paths]
    outcome = FixedRun(RunResult([], []))
    seen: Dict[Path, Set[str]] = {}
    for number in range(MAX_PASSES + 1):
        result = run_all(paths, settings_for, jobs, current, run_plan if number == 0 else None)
        outcome.result = result
        if number == MAX_PASSES:
            break
        changed = False
        for analysis, findings in result.projects:
            changed |= _one_pass(analysis, findings, unsafe, current, seen, outcome, named)
        if not changed:
            break
    for analysis, findings in outcome.result.projects:
        plan = plan_fixes(analysis, findings, unsafe=True)
        enabled = [item for item in plan.unfixed if unsafe or RULES_BY_CODE[item.finding.code].autofix == "safe"]
        outcome.unfixed.extend((analysis, item) for item in enabled)
        for fix in plan.fixes:
            if not within(analysis.root / fix.path, named):
                why = "its file is not among the paths named: name it to fix it"
                outcome.unfixed.extend((analysis, Unfixed(f, why)) for f in fix.findings if fix.safe or unsafe)
            elif fix.safe or unsafe:  # still there: it clashed with another fix, or broke the file
                outcome.unfixed.extend((analysis, Unfixed(f, "its fix could not be applied with the others")) for f in fix.findings)
            else:
                outcome.hidden += 1
    return outcome


def _one_pass(
    analysis: Analysis,
    findings: List[Finding],
    unsafe: bool,
    current: Dict[Path, bytes],
    seen: Dict[Path, Set[str]],
    outcome: FixedRun,
    named: Sequence[Path],
) -> bool:
    by_file: Dict[str, List[Fix]] = {}
    for fix in plan_fixes(analysis, findings, unsafe).fixes:
        if within(analysis.root / fix.path, named):  # a finding may rest on a named file and sit in another
            by_file.setdefault(fix.path, []).append(fix)
    changed = False
    for rel, fixes in sorted(by_file.items()):
        path = analysis.root / rel
        text = read_text(analysis.root, rel, analysis.overrides)
        if text is None:
            continue
        chosen = _chosen(fixes)
        new = apply_edits(text, [edit for fix in chosen for edit in fix.edits])
        if new == text or new in seen.setdefault(path, set()):
            continue
        if not _parses(new):
            outcome.notices.append(f"{rel}: fixes not applied: the fixed file would not parse (please report it)")
            continue
        seen[path].add(text)
        outcome.before.setdefault(path, text)
        outcome.after[path] = new
        current[path] = new.encode("utf-8")
        outcome.fixed += sum(len(fix.findings) for fix in chosen)
        changed = True
    return changed


def unified_diff(before: str, after: str, shown: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), shown, shown)
    out = []
    for line in lines:
        out.append(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_files(after: Mapping[Path, str]) -> List[str]:
    """Write each fixed file in place (its permissions and links kept); the errors, if any."""
    errors = []
    for path, text in sorted(after.items()):
        try:
            with open(path, "wb") as handle:
                handle.write(text.encode("utf-8"))
        except OSError as error:
            errors.append(f"{path}: cannot write: {error.strerror or error}")
    return errors
