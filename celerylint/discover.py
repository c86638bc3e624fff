"""Paths in, projects out: each project's root, its Python files and its deployment files.

A file belongs to the project of its nearest marker (``pyproject.toml``, ``setup.cfg``,
``setup.py``, ``.git``). With no marker above it, the project root is the folder a Python
process would put on ``sys.path`` to import it: the parent of the outermost package holding
it, or the folder itself when it is no package. Paths are made absolute but symlinks are not
followed, so a link never moves a root out of the tree the user named.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Protocol, Sequence, Set, Tuple

import pathspec
from pathspec.pattern import RegexPattern
from pathspec.util import normalize_file

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
# A `setup.py` or `setup.cfg` in a package, or in a namespace folder anywhere inside one
# (config/settings/toolbar/setup.py with only config/ a package), is one of its modules or
# data files, not a project.
PACKAGE_MARKERS = ("pyproject.toml", ".git")
DEFAULT_EXCLUDED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox",
        "build", "dist", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages",
        ".celerylint_cache",
    }
)
DEFAULT_EXCLUDES = tuple(f"{name}/" for name in sorted(DEFAULT_EXCLUDED_DIRS)) + ("*.egg-info/",)
# Files where a `celery ... worker` command or a deployment environment may be written.
DEPLOY_NAMES = ("procfile", "makefile", "dockerfile", ".env", "justfile", "pipfile")
DEPLOY_SUFFIXES = (".yml", ".yaml", ".sh", ".ini", ".conf", ".cfg", ".service", ".md", ".rst", ".env", ".toml", ".txt", ".in", ".lock")


class Matcher(Protocol):
    """What celerylint needs of a pathspec (any pathspec version)."""

    def match_file(self, file: str) -> bool: ...


def absolute(path: Path) -> Path:
    """The path made absolute and normalised, without following symlinks."""
    return Path(os.path.normpath(os.path.abspath(path)))


def _marks_project(names: Iterable[str], in_package: bool) -> bool:
    """Whether a folder holding these names (inside a package or not) is a project root."""
    present = set(names)
    return any(marker in present for marker in (PACKAGE_MARKERS if in_package else ROOT_MARKERS))


def _inside_package(folder: Path) -> bool:
    return any(_is_package(candidate) for candidate in (folder, *folder.parents))


def _has_marker(folder: Path) -> bool:
    names = [name for name in ROOT_MARKERS if os.path.lexists(folder / name)]
    return bool(names) and _marks_project(names, _inside_package(folder))


def _is_package(folder: Path) -> bool:
    return os.path.isfile(folder / "__init__.py")


def _outermost_link_below_cwd(target: Path) -> Optional[Path]:
    """The named path if it is a symlink, or a symlink on it below the current folder (links
    above the current folder, such as a symlinked home, are the user's own layout)."""
    here = absolute(Path.cwd())
    links = [part for part in (target, *target.parents) if (part == target or here in part.parents) and os.path.islink(part)]
    return links[-1] if links else None


def project_root(target: Path) -> Path:
    """The root of the project the target belongs to (see the module docstring). A link named
    in the path (`etc -> /etc`) is an entry of its folder: its target never becomes a root."""
    target = absolute(target)
    link = _outermost_link_below_cwd(target)
    if link is not None:
        target = link
    folder = target.parent if link is not None or not target.is_dir() else target
    for candidate in (folder, *folder.parents):
        if _has_marker(candidate):
            return candidate
    # Folders without __init__.py inside a regular package are namespace portions of it
    # (`shop/plugins/extra.py` imports as shop.plugins.extra): look past them for the package.
    nearest = next((candidate for candidate in (folder, *folder.parents) if _is_package(candidate)), None)
    if nearest is None:
        return folder
    while _is_package(nearest.parent) and nearest.parent != nearest:
        nearest = nearest.parent
    return nearest.parent


@dataclass(frozen=True)
class FileSet:
    """What one project holds, and what the walk could not use (one notice line each)."""

    root: Path
    python: Tuple[Path, ...]
    deploy: Tuple[Path, ...]
    nested_roots: Tuple[Path, ...] = ()  # folders below with a marker of their own: other projects
    notices: Tuple[str, ...] = ()


class GitIgnoreMatcher:
    """gitignore-style patterns. Without negations (`!x`) a path is matched when any pattern
    matches, so one combined regular expression answers in a single C-level search instead of
    a Python loop over the patterns (the walk asks for every file and folder of the tree)."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.spec = pathspec.GitIgnoreSpec.from_lines(lines)
        patterns = [pattern for pattern in self.spec.patterns if pattern.include is not None]
        self.combined: Optional["re.Pattern[str]"] = None
        # With negations the last matching pattern decides, which pathspec works out; but a path
        # that no pattern matches at all (most of them) is not matched, and one search says so.
        self.any_pattern: Optional["re.Pattern[str]"] = None
        if all(isinstance(pattern, RegexPattern) for pattern in patterns):
            sources = [_UNNAMED.sub("(?:", pattern.regex.pattern) for pattern in patterns]  # type: ignore[union-attr]
            either = re.compile(_alternatives(sources))
            if all(pattern.include for pattern in patterns):
                self.combined = either
            else:
                self.any_pattern = either

    def match_file(self, file: str) -> bool:
        if self.combined is not None:
            return self.combined.match(normalize_file(file)) is not None
        if self.any_pattern is not None and self.any_pattern.match(normalize_file(file)) is None:
            return False
        return self.spec.match_file(file)


# Named groups (pathspec marks folder matches with one) cannot repeat in one expression.
_UNNAMED = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")
# How pathspec starts a pattern without a slash: at any depth.
_ANY_DEPTH = "^(?:.+/)?"


def _alternatives(sources: Sequence[str]) -> str:
    """One expression matching what any of ``sources`` matches. The patterns for any depth share
    their prefix once: otherwise each alternative backtracks over every slash of the path again."""
    any_depth = [source[len(_ANY_DEPTH) :] for source in sources if source.startswith(_ANY_DEPTH)]
    parts = [f"(?:{source})" for source in sources if not source.startswith(_ANY_DEPTH)]
    if any_depth:
        parts.append(_ANY_DEPTH + "(?:" + "|".join(f"(?:{source})" for source in any_depth) + ")")
    return "|".join(parts) or r"(?!)"


def _gitignore(root: Path) -> Optional[Matcher]:
    try:
        with open(root / ".gitignore", "rb") as handle:
            lines = handle.read(1_000_000).decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return GitIgnoreMatcher(lines)


# Larger files are not read: a generated module this big holds no Celery wiring worth the cost.
MAX_FILE_BYTES = 10_000_000


def read_capped(path: Path) -> Optional[bytes]:
    """A file's bytes, or None when it cannot be read or is over MAX_FILE_BYTES."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_FILE_BYTES else None


def read_lines(path: Path) -> Optional[List[str]]:
    """A file's lines as a report shows them (undecodable bytes replaced), or None."""
    data = read_capped(path)
    return None if data is None else data.decode("utf-8", errors="replace").splitlines()


def _is_deploy_file(name: str) -> bool:
    lower = name.lower()
    return lower.startswith(DEPLOY_NAMES) or lower.endswith(DEPLOY_SUFFIXES)


def is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def within(path: Path, targets: Iterable[Path]) -> bool:
    """Whether path is one of the targets or lies under one of them."""
    return any(is_inside(path, target) for target in targets)


class _Walk:
    """One scandir walk of a project. A folder named on the command line (or one on the way
    to a named path) is walked even when excluded, as in ruff, unless ``force_exclude``."""

    def __init__(
        self, root: Path, ignore: Optional[Matcher], exclude: Matcher, wanted: Set[Path]
    ) -> None:
        self.root = root
        self.ignore = ignore
        self.exclude = exclude
        # String paths: the walk asks for every entry, and a Path costs a parse and a hash.
        self.wanted = {str(target) for target in wanted}
        self.on_the_way = {str(parent) for target in wanted for parent in target.parents}
        self.python: List[Path] = []
        self.deploy: List[Path] = []
        self.nested: List[Path] = []
        self.notices: List[str] = []

    def run(self) -> FileSet:
        in_package = any(_is_package(folder) for folder in self.root.parents)
        self._folder(str(self.root), "", respect_ignore=True, only_named=False, in_package=in_package)
        return FileSet(self.root, tuple(self.python), tuple(self.deploy), tuple(self.nested), tuple(self.notices))

    def _skipped(self, rel: str, why: str) -> None:
        self.notices.append(f"{rel or '.'}: skipped: {why}")

    def _excluded(self, rel: str, respect_ignore: bool) -> bool:
        if self.exclude.match_file(rel):
            return True
        return respect_ignore and self.ignore is not None and self.ignore.match_file(rel)

    def _folder(self, folder: str, rel: str, respect_ignore: bool, only_named: bool, in_package: bool) -> None:
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as error:
            self._skipped(rel, f"cannot list folder ({error.strerror or error})")
            return
        in_package = in_package or any(entry.name == "__init__.py" for entry in entries)
        if rel and _marks_project((entry.name for entry in entries), in_package):
            self.nested.append(Path(folder))  # another project: analysed apart, with its own settings
            return
        for entry in entries:
            path = entry.path
            child = f"{rel}{entry.name}"
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                self._subfolder(path, child, respect_ignore, only_named, in_package)
            elif path in self.wanted and entry.is_symlink() and os.path.isdir(path):
                self._skipped(child, "a link to a folder; links to folders are not followed")
            elif entry.name.endswith(".py") or _is_deploy_file(entry.name):
                named = path in self.wanted
                if (only_named or self._excluded(child, respect_ignore)) and not named:
                    continue
                if self._usable_file(entry, path, child):
                    (self.python if entry.name.endswith(".py") else self.deploy).append(Path(path))

    def _subfolder(self, path: str, rel: str, respect_ignore: bool, only_named: bool, in_package: bool) -> None:
        named = path in self.wanted
        if only_named and not named and path not in self.on_the_way:
            return
        if not only_named:
            excluded = self._excluded(rel + "/", respect_ignore) or _is_virtualenv(path)
            if excluded and not named and path not in self.on_the_way:
                return
            if excluded and not named:
                only_named = True  # walked only to reach a named path below it
        # Below a folder named on the command line, .gitignore no longer hides anything.
        self._folder(path, rel + "/", respect_ignore and not named, only_named and not named, in_package)

    def _usable_file(self, entry: "os.DirEntry[str]", path: str, rel: str) -> bool:
        """A regular file inside the project: links are followed only within it, and devices,
        FIFOs and sockets are never opened (reading one would block or never end)."""
        try:
            if entry.is_file(follow_symlinks=False):
                return True
            if not entry.is_symlink():
                self._skipped(rel, "not a regular file")
                return False
            info = os.stat(path)
        except OSError as error:
            self._skipped(rel, f"cannot read ({error.strerror or error})")
            return False
        if not stat.S_ISREG(info.st_mode):
            self._skipped(rel, "a link to something that is not a regular file")
            return False
        if not is_inside(Path(os.path.realpath(path)), Path(os.path.realpath(self.root))):
            self._skipped(rel, "a link to a file outside the project")
            return False
        return True


def _is_virtualenv(path: str) -> bool:
    try:
        return os.path.isfile(os.path.join(path, "pyvenv.cfg"))
    except OSError:
        return False


def list_files(
    root: Path,
    respect_gitignore: bool = True,
    targets: Sequence[Path] = (),
    exclude: Optional[Matcher] = None,
    force_exclude: bool = False,
) -> FileSet:
    """Python and deployment files of the project at root (nested projects left out)."""
    root = absolute(root)
    ignore = _gitignore(root) if respect_gitignore else None
    exclude = exclude if exclude is not None else GitIgnoreMatcher(DEFAULT_EXCLUDES)
    wanted = set() if force_exclude else {absolute(target) for target in targets}
    return _Walk(root, ignore, exclude, wanted).run()


def group_by_project(targets: Sequence[Path]) -> Dict[Path, List[Path]]:
    """Named paths by the root of the project each belongs to, in a stable order."""
    groups: Dict[Path, List[Path]] = {}
    for target in sorted({absolute(target) for target in targets}):
        groups.setdefault(project_root(target), []).append(target)
    return dict(sorted(groups.items()))
