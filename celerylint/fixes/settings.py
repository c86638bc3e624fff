"""CEL011: rename a configuration's old setting names to the new ones, all at once (the table
`celery upgrade settings` uses: celery.app.defaults._TO_NEW_KEY, through model/setting_names).
CEL010 (unsafe): write the one spelling the finding suggests."""

from __future__ import annotations

import re
from typing import Dict, FrozenSet, Iterator, List, Set, Tuple, Union

from celerylint.findings import Finding
from celerylint.fixes import TextEdit
from celerylint.fixes.context import FixContext, Outcome, suggested, unfixed
from celerylint.fixes.keys import locate_key, mentions, rename
from celerylint.rules.settings import MixedConfig, SettingsView, entry_loc, mixed_configurations


def _renamed(ctx: FixContext, view: SettingsView, config: MixedConfig) -> Union[Tuple[str, List[TextEdit]], str]:
    """(file, edits) renaming every old key of the configuration to its new name, or why not."""
    to_new = view.tables.to_new
    keys = {entry.key for entry in config.entries}
    olds = [entry for entry in config.entries if entry.key in to_new]
    for entry in olds:
        new = to_new[entry.key]
        if new in keys:
            return f"both '{entry.key}' and '{new}' are set: keep one by hand"
        if view.container(entry) == "shared":
            return f"'{entry.key}' is in a configuration the web framework reads too: rename it by hand"
        if entry.key in view.names_read:
            return f"the project's code reads '{entry.key}': renaming it would break that read"
    files = sorted({entry.origin.rel for entry in olds})
    if len(files) != 1:
        return f"the old names are written in {len(files)} files ({', '.join(files)}): rename them by hand"
    source = ctx.sources.get(files[0])
    if source is None:
        return f"{files[0]} cannot be read or parsed"
    edits: Dict[Tuple[int, int], TextEdit] = {}
    bindings: Dict[str, int] = {}
    for entry in olds:
        node = locate_key(source, entry.origin.line, entry.origin.col - 1, entry.key)
        edit = rename(source, node, to_new[entry.key]) if node is not None else None
        if edit is None:
            return f"'{entry.key}' is not written plainly where it is set ({entry.origin}): rename it by hand"
        if (edit.start_line, edit.start_col) not in edits:
            # A binding (module or class) is itself a mention; a keyword or dict key is not.
            bindings[entry.key] = bindings.get(entry.key, 0) + (entry.container in ("module", "class"))
        edits[(edit.start_line, edit.start_col)] = edit
    for key, count in bindings.items():
        if mentions(source, key) != count:
            return f"'{key}' is read or set again elsewhere in {files[0]}: rename it by hand"
    return files[0], list(edits.values())


def mixed_names(ctx: FixContext, findings: List[Finding]) -> Iterator[Outcome]:
    """CEL011: one fix per configuration, renaming all its old names."""
    project = ctx.analysis.project
    view = SettingsView(project)
    wanted = {(f.path, f.line, f.col): f for f in findings}
    answered: Set[Finding] = set()
    seen: Set[FrozenSet[Tuple[str, int, int, str]]] = set()
    for config in mixed_configurations(project, view):
        hits: List[Finding] = []
        for entry in config.losers:
            loc = entry_loc(view, entry)
            finding = wanted.get((entry.origin.rel, loc.line, loc.col))
            if finding is not None and finding not in hits:
                hits.append(finding)
        identity = frozenset((e.origin.rel, e.origin.line, e.origin.col, e.key) for e in config.entries)
        if not hits or identity in seen:
            continue
        seen.add(identity)
        renamed = _renamed(ctx, view, config)
        if isinstance(renamed, str):
            yield from unfixed(hits, renamed)
        else:
            rel, edits = renamed
            yield ctx.fix(rel, "Rename the old setting names to the new ones", edits, hits)
        answered.update(hits)
    yield from unfixed([f for f in findings if f not in answered], "its configuration was not found again")


# The rule's message names the key, its hint the one spelling it suggests.
UNKNOWN_KEY = re.compile(r"^'(?P<key>[^']+)' is not a Celery setting")
SUGGESTION = re.compile(r"^Did you mean '(?P<new>[^']+)'\?$")


def unknown_setting(ctx: FixContext, findings: List[Finding]) -> Iterator[Outcome]:
    """CEL010 (unsafe: the suggestion is a guess): write the suggested name."""
    for finding in findings:
        names = suggested(finding, UNKNOWN_KEY, SUGGESTION)
        if names is None:
            yield from unfixed([finding], "no spelling to suggest")
            continue
        key, new = names
        source = ctx.sources.get(finding.path)
        node = None if source is None else locate_key(source, finding.line, finding.col - 1, key)
        edit = rename(source, node, new) if source is not None and node is not None else None
        if source is None or edit is None:
            yield from unfixed([finding], f"'{key}' is not written plainly here")
        elif mentions(source, new):
            yield from unfixed([finding], f"'{new}' is already named in {finding.path}")
        else:
            yield ctx.fix(finding.path, f"Rename '{key}' to '{new}'", [edit], [finding])
