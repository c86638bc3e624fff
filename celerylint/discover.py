"""Paths in, files out: the project root, its Python files and its deployment files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import pathspec

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
DEFAULT_EXCLUDED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox",
        "build", "dist", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages",
        ".celerylint_cache",
    }
)
DEFAULT_EXCLUDES = tuple(f"{name}/" for name in sorted(DEFAULT_EXCLUDED_DIRS)) + ("*.egg-info/",)
# Files where a `celery ... worker` command or a deployment environment may be written.
DEPLOY_NAMES = ("procfile", "makefile", "dockerfile", ".env", "justfile")
DEPLOY_SUFFIXES = (".yml", ".yaml", ".sh", ".ini", ".conf", ".cfg", ".service", ".md", ".rst", ".env", ".toml", ".txt")
MAX_DEPLOY_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class FileSet:
    root: Path
    python: Tuple[Path, ...]
    deploy: Tuple[Path, ...]


def find_root(paths: Sequence[Path]) -> Path:
    """The nearest ancestor of the first path holding a project marker, else its folder."""
    start = paths[0].resolve() if paths else Path.cwd().resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in ROOT_MARKERS):
            return candidate
    return folder


def _gitignore(root: Path) -> Optional[pathspec.PathSpec]:
    try:
        lines = (root / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _is_virtualenv(path: Path) -> bool:
    return (path / "pyvenv.cfg").exists()


def _is_deploy_file(name: str) -> bool:
    lower = name.lower()
    return lower.startswith(DEPLOY_NAMES) or lower.endswith(DEPLOY_SUFFIXES)


def list_files(
    root: Path,
    respect_gitignore: bool = True,
    targets: Sequence[Path] = (),
    exclude: Optional[pathspec.PathSpec] = None,
    force_exclude: bool = False,
) -> FileSet:
    """Python and deployment files under root. A path named on the command line (or a folder
    holding one) is walked even if excluded, as in ruff, unless ``force_exclude``."""
    ignore = _gitignore(root) if respect_gitignore else None
    exclude = exclude if exclude is not None else pathspec.GitIgnoreSpec.from_lines(DEFAULT_EXCLUDES)
    wanted = set() if force_exclude else {target.resolve() for target in targets}
    on_the_way = {parent for target in wanted for parent in target.parents}
    python: List[Path] = []
    deploy: List[Path] = []
    unignored: List[Path] = []  # named folders walked although ignored: .gitignore is off below them
    path_only: List[Path] = []  # ignored folders walked only to reach a named path below them
    for folder, dirs, files in os.walk(root, onerror=lambda error: None):
        here = Path(folder)
        rel_folder = here.relative_to(root).as_posix()
        if here in path_only:
            dirs[:] = [name for name in dirs if (here / name).resolve() in wanted | on_the_way]
            for name in dirs:
                if (here / name).resolve() in wanted:
                    unignored.append(here / name)
                else:
                    path_only.append(here / name)
            _collect(here, [n for n in files if (here / n).resolve() in wanted], python, deploy)
            continue
        check_ignore = ignore is not None and not any(here == u or u in here.parents for u in unignored)
        kept = []
        for name in sorted(dirs):
            rel = f"{rel_folder}/{name}/" if rel_folder != "." else f"{name}/"
            excluded = exclude.match_file(rel) or _is_virtualenv(here / name)
            excluded = excluded or (check_ignore and ignore is not None and ignore.match_file(rel))
            if excluded:
                resolved = (here / name).resolve()
                if resolved in wanted:
                    unignored.append(here / name)
                elif resolved in on_the_way:
                    path_only.append(here / name)
                else:
                    continue
            kept.append(name)
        dirs[:] = kept
        names = []
        for name in sorted(files):
            rel = f"{rel_folder}/{name}" if rel_folder != "." else name
            ignored = exclude.match_file(rel) or (check_ignore and ignore is not None and ignore.match_file(rel))
            if not ignored or (here / name).resolve() in wanted:
                names.append(name)
        _collect(here, names, python, deploy)
    return FileSet(root, tuple(python), tuple(deploy))


def _collect(folder: Path, names: Sequence[str], python: List[Path], deploy: List[Path]) -> None:
    for name in names:
        if name.endswith(".py"):
            python.append(folder / name)
        elif _is_deploy_file(name):
            deploy.append(folder / name)


def within(path: Path, targets: Iterable[Path]) -> bool:
    """Whether path is one of the targets or lies under one of them."""
    for target in targets:
        if path == target or target in path.parents:
            return True
    return False
