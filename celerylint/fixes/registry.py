"""Which rule each fixer serves; a rule's `autofix` says whether its fix is safe."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Sequence

from celerylint.findings import Finding
from celerylint.fixes import Fix, FixPlan, Unfixed
from celerylint.fixes.context import FixContext, Fixer
from celerylint.fixes.source import Sources
from celerylint.fixes.imports import removed_api
from celerylint.fixes.settings import mixed_names, unknown_setting
from celerylint.fixes.tasks import bind_mismatch, execution_option, unknown_option
from celerylint.rules import RULES_BY_CODE

if TYPE_CHECKING:
    from celerylint.engine import Analysis

FIXERS: Dict[str, Fixer] = {
    "CEL010": unknown_setting,
    "CEL011": mixed_names,
    "CEL014": bind_mismatch,
    "CEL017": removed_api,
    "CEL020": unknown_option,
    "CEL022": execution_option,
}


def plan(analysis: "Analysis", findings: Sequence[Finding], unsafe: bool = False) -> FixPlan:
    """The fixes for these findings (the unsafe ones only when asked), and the findings of
    fixable rules left without one, each with why."""
    fixes: List[Fix] = []
    left: List[Unfixed] = []
    sources = Sources(analysis)
    for code, fixer in FIXERS.items():
        safe = RULES_BY_CODE[code].autofix == "safe"
        mine = sorted(finding for finding in findings if finding.code == code)
        if not mine or not (safe or unsafe):
            continue
        # A file that cannot be read as UTF-8 or parsed cannot be edited: say why once, here.
        blocked = {finding: sources.why_not(finding.path) for finding in mine}
        left.extend(Unfixed(finding, why) for finding, why in blocked.items() if why is not None)
        mine = [finding for finding in mine if blocked[finding] is None]
        if not mine:
            continue
        for outcome in fixer(FixContext(analysis, safe, sources), mine):
            if isinstance(outcome, Fix):
                fixes.append(outcome)
            else:
                left.append(outcome)
    fixed = {finding for fix in fixes for finding in fix.findings}
    return FixPlan(tuple(fixes), tuple(item for item in left if item.finding not in fixed))
