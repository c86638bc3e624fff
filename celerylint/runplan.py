"""What a run covers before anything is parsed: the projects the named paths belong to, each with
its settings and its files. Cheap (a directory walk and the settings files), so a run can decide
from it alone whether its answer is already known (``results_cache``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Sequence, Set, Tuple

from celerylint.config import ConfigError, Settings, check_code
from celerylint.discover import DEFAULT_EXCLUDES, FileSet, GitIgnoreMatcher, Matcher, absolute, group_by_project, is_inside, list_files

SettingsFor = Callable[[Path], Settings]


@dataclass(frozen=True)
class ProjectPlan:
    """One project of a run: its root, the named paths inside it, its settings and its files."""

    root: Path
    targets: Tuple[Path, ...]
    settings: Settings
    files: FileSet


@dataclass(frozen=True)
class RunPlan:
    """Every project a run covers, in a stable order, and the projects it had to skip."""

    projects: Tuple[ProjectPlan, ...]
    notices: Tuple[str, ...]


def plan(paths: Sequence[Path], overrides: Mapping[Path, bytes] = {}) -> Dict[Path, List[Path]]:
    """Named paths by project root; every named path must exist (or be an unsaved buffer)."""
    for path in paths:
        if not os.path.lexists(path) and absolute(path) not in overrides:
            raise ConfigError(f"{path}: no such file or directory")
    return group_by_project(paths)


def validate_codes(settings: Settings) -> None:
    for prefix in settings.select + settings.ignore + settings.extend_select:
        check_code(prefix, "select/ignore")


def exclude_spec(settings: Settings) -> Matcher:
    patterns = list(settings.exclude) if settings.exclude is not None else list(DEFAULT_EXCLUDES)
    return GitIgnoreMatcher(patterns + list(settings.extend_exclude))


def plan_run(paths: Sequence[Path], settings_for: SettingsFor, overrides: Mapping[Path, bytes] = {}) -> RunPlan:
    """One plan per project, each with its own settings, in a stable order whatever the order
    of the paths. A named folder holding other projects (a marker of their own) covers them too;
    one of those whose configuration cannot be read is skipped with a notice."""
    queue = plan(paths, overrides)
    found_below: Set[Path] = set()  # projects met while walking a named folder, not named themselves
    done: Set[Path] = set()
    projects: List[ProjectPlan] = []
    notices: List[str] = []
    while queue:
        root = min(queue)
        targets = queue.pop(root)
        done.add(root)
        try:
            settings = settings_for(root)
            validate_codes(settings)
        except ConfigError as error:
            if root not in found_below:
                raise
            notices.append(f"{display_notice(root, '.: skipped')}: its configuration cannot be read: {error}")
            continue
        files = list_files(root, settings.respect_gitignore, targets, exclude_spec(settings), settings.force_exclude)
        for nested in files.nested_roots:
            if nested not in done and any(is_inside(nested, target) for target in targets):
                queue.setdefault(nested, []).append(nested)
                found_below.add(nested)
        projects.append(ProjectPlan(root, tuple(targets), settings, files))
    projects.sort(key=lambda project: project.root)
    return RunPlan(tuple(projects), tuple(notices))


def display_notice(root: Path, notice: str) -> str:
    """Notices name files relative to the current folder, as findings do."""
    rel, sep, rest = notice.partition(": ")
    try:
        shown = os.path.relpath(root / rel)
    except ValueError:
        shown = str(root / rel)
    return f"{shown}{sep}{rest}"
