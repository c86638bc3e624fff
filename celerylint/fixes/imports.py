"""CEL017: `from celery.task import task` and friends to their Celery 5 homes, names kept bound
as before (`from celery import shared_task as task`), aliases kept. Each new home is checked
against the installed Celery (ground truth): a name it does not export is not moved."""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Tuple, Union

import libcst as cst

from celerylint.findings import Finding
from celerylint.fixes import TextEdit
from celerylint.fixes.context import FixContext, Outcome, unfixed
from celerylint.fixes.source import Source, comments_in
from celerylint.groundtruth import import_installed
from celerylint.rules.compat import REMOVED_MODULES

# The Celery 5 home of what celery.task and celery.decorators exported (Celery 4's
# celery/task/__init__.py, base.py, sets.py and celery/decorators.py): the same object or its
# successor that takes the same arguments. periodic_task, PeriodicTask and TaskSet have none.
MOVED = {
    "task": ("celery", "shared_task"),
    "Task": ("celery", "Task"),
    "group": ("celery", "group"),
    "chord": ("celery", "chord"),
    "chain": ("celery", "chain"),
    "subtask": ("celery", "signature"),
    "crontab": ("celery.schedules", "crontab"),
    "schedule": ("celery.schedules", "schedule"),
}
SCHEDULES = "celery.task.schedules"  # everything it held lives in celery.schedules


def _dotted(node: Union[cst.Attribute, cst.Name]) -> str:
    if isinstance(node, cst.Name):
        return node.value
    assert isinstance(node.value, (cst.Attribute, cst.Name))
    return f"{_dotted(node.value)}.{node.attr.value}"


def _exported(module: str, name: str) -> bool:
    try:
        return hasattr(import_installed(module), name)
    except ImportError:
        return False


def _home(module: str, name: str) -> Optional[Tuple[str, str]]:
    """Where Celery 5 keeps what ``from module import name`` gave, or None."""
    if module == SCHEDULES:
        home: Optional[Tuple[str, str]] = ("celery.schedules", name)
    elif module in ("celery.task", "celery.task.base", "celery.task.sets", "celery.decorators"):
        home = MOVED.get(name)
    else:
        home = None
    return home if home is not None and _exported(*home) else None


def _statement(source: Source, line: int) -> List[Tuple[cst.BaseSmallStatement, cst.SimpleStatementLine]]:
    found: List[Tuple[cst.BaseSmallStatement, cst.SimpleStatementLine]] = []
    for statement_line, where in source.nodes(cst.SimpleStatementLine):
        if where.start.line == line:
            found.extend((small, statement_line) for small in statement_line.body if isinstance(small, (cst.Import, cst.ImportFrom)))
    return found


def _moved(source: Source, node: cst.ImportFrom, line: cst.SimpleStatementLine) -> Union[List[TextEdit], str]:
    if node.module is None or node.relative or isinstance(node.names, cst.ImportStar):
        return "a star or relative import: rewrite it by hand"
    module = _dotted(node.module)
    if not any(module == removed or module.startswith(removed + ".") for removed in REMOVED_MODULES):
        return f"`from {module} import ...` has no drop-in replacement"
    homes: Dict[str, List[Tuple[cst.ImportAlias, str]]] = {}
    for alias in node.names:
        if not isinstance(alias.name, cst.Name):
            return "a dotted name in a from-import"
        home = _home(module, alias.name.value)
        if home is None:
            return f"{module}.{alias.name.value} has no drop-in replacement in Celery 5"
        homes.setdefault(home[0], []).append((alias, home[1]))
    if len(homes) == 1:
        edits = [source.replace(node.module, next(iter(homes)))]
        for alias, new in next(iter(homes.values())):
            assert isinstance(alias.name, cst.Name)
            if new != alias.name.value:
                edits.append(source.replace(alias.name, new if alias.asname else f"{new} as {alias.name.value}"))
        return edits
    if comments_in(source.text_of(node)):
        return "a comment inside the import would be lost in splitting it: split it by hand"
    statements = []
    for module_home, aliases in homes.items():
        names = []
        for alias, new in aliases:
            assert isinstance(alias.name, cst.Name)
            bound = alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else alias.name.value
            names.append(new if new == bound else f"{new} as {bound}")
        statements.append(f"from {module_home} import {', '.join(names)}")
    where = source.span(node)
    separator = "\n" + source.indent_of(where.start.line) if len(line.body) == 1 else "; "
    return [source.replace(node, separator.join(statements))]


def removed_api(ctx: FixContext, findings: List[Finding]) -> Iterator[Outcome]:
    """CEL017: move each imported name to its Celery 5 home."""
    for finding in findings:
        source = ctx.sources.get(finding.path)
        found = _statement(source, finding.line) if source is not None else []
        if source is None or len(found) != 1:
            yield from unfixed([finding], "the import statement was not found alone on its line")
            continue
        node, line = found[0]
        if isinstance(node, cst.Import):
            yield from unfixed([finding], "`import celery.task` is used as a module: rewrite its uses by hand")
            continue
        assert isinstance(node, cst.ImportFrom)
        edits = _moved(source, node, line)
        if isinstance(edits, str):
            yield from unfixed([finding], edits)
        else:
            yield ctx.fix(finding.path, "Import from Celery 5's modules", edits, [finding])
