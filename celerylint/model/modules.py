"""Module names from paths, and import resolution between the project's modules."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

from celerylint.facts.types import ModuleFacts


# Absolute imports of these always mean the installed package: a project module named
# celery.py (next to `from celery import Celery`) must not capture them.
EXTERNAL_TOP_LEVEL = frozenset(
    {"celery", "kombu", "billiard", "flask", "flask_sqlalchemy", "flask_mail", "flask_login", "django", "sqlalchemy", "os", "sys"}
)


def is_test_path(rel: str) -> bool:
    """Test code by its path relative to the project root (posix): a tests/test/testing folder,
    test_*.py, *_test.py, conftest.py."""
    parts = rel.split("/")
    name = parts[-1]
    in_test_folder = any(part in ("tests", "test", "testing") for part in parts[:-1])
    return in_test_folder or name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


@dataclass(frozen=True)
class ModuleInfo:
    name: str  # canonical dotted name, rooted at the first folder without __init__.py
    path: Path
    rel: str  # path relative to the project root, posix
    is_package: bool
    root: Path  # the sys.path entry the canonical name assumes
    facts: ModuleFacts

    @property
    def package(self) -> str:
        """The package that relative imports in this module start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @cached_property
    def root_key(self) -> str:
        """``root`` as a string: compared and hashed for every import resolved (a Path's are slow)."""
        return str(self.root)

    @cached_property
    def is_test(self) -> bool:
        """Test code: tasks defined there run eagerly in tests, never on a production worker."""
        return is_test_path(self.rel)

    @property
    def broken(self) -> bool:
        """Its content is not known: it does not parse, or could not be read."""
        return self.facts.syntax_error is not None or self.facts.unanalysed is not None

    @property
    def may_configure(self) -> bool:
        """A broken module that may hold Celery wiring (unread content may hold anything)."""
        return self.broken and (self.facts.relevant or self.facts.unanalysed is not None)


def _canonical(rel_parts: Tuple[str, ...], packages: Set[Tuple[str, ...]]) -> Tuple[str, Tuple[str, ...], bool]:
    """The dotted name Celery and Python give the module at ``rel_parts`` (its path's parts
    relative to the project root), and the sys.path entry it assumes (as parts of the root).

    Named from the outermost package above it: folders without __init__.py inside a regular
    package are namespace portions of it (proj/importers/asana/tasks.py with no
    importers/__init__.py is proj.importers.asana.tasks). A module in no package is top-level
    from its own folder. Names never come from a folder above the project root: when the root
    itself holds an ``__init__.py``, its modules are top-level (as `celery -A tasks` run in that
    folder sees them) and its ``__init__`` has no name."""
    is_package = rel_parts[-1] == "__init__.py"
    # The outermost package among the folders between the root and the file (one pass, no
    # repeated ancestor walks: this runs for every file of the project).
    outermost_depth = None
    for depth in range(len(rel_parts) - 1):
        if rel_parts[: depth + 1] in packages:
            outermost_depth = depth
            break
    if outermost_depth is None:
        return ("" if is_package else _stem(rel_parts[-1])), rel_parts[:-1], is_package
    parts = list(rel_parts[outermost_depth:])
    parts[-1] = _stem(parts[-1])
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), rel_parts[:outermost_depth], is_package


def _stem(name: str) -> str:
    """Path(name).stem, without making a Path (this runs for every file)."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _rel_parts(path: Path, project_root: Path) -> Tuple[str, ...]:
    """path.relative_to(project_root).parts, by string (this runs for every file)."""
    text, prefix = str(path), str(project_root)
    if text.startswith(prefix) and text[len(prefix) : len(prefix) + 1] == os.sep:
        return tuple(text[len(prefix) + 1 :].split(os.sep))
    return path.relative_to(project_root).parts


class ModuleIndex:
    """All project modules, findable by any name a sys.path entry inside the project gives them."""

    def __init__(self, project_root: Path, modules: Iterable[Tuple[Path, ModuleFacts]]) -> None:
        self.project_root = project_root
        self.by_name: Dict[str, ModuleInfo] = {}
        self._candidates: Dict[str, List[ModuleInfo]] = {}
        pairs = list(modules)
        self._facts_by_path: Dict[Path, ModuleFacts] = dict(pairs)
        # Folders holding an __init__.py among the discovered files, as parts relative to the
        # root: no stat per folder level.
        parts_of = {path: _rel_parts(path, project_root) for path, _ in pairs}
        packages = {parts[:-1] for parts in parts_of.values() if parts[-1] == "__init__.py"}
        # The sys.path entries modules assume, one Path object per folder (not one per file).
        roots: Dict[Tuple[str, ...], Path] = {}
        for path, facts in pairs:
            self._add(path, parts_of[path], facts, packages, roots)

    def _add(
        self, path: Path, rel_parts: Tuple[str, ...], facts: ModuleFacts, packages: Set[Tuple[str, ...]], roots: Dict[Tuple[str, ...], Path]
    ) -> None:
        name, root_parts, is_package = _canonical(rel_parts, packages)
        if not name or not all(part.isidentifier() for part in name.split(".")):
            return
        root = roots.get(root_parts)
        if root is None:
            root = roots[root_parts] = self.project_root.joinpath(*root_parts)
        rel = "/".join(rel_parts)
        info = ModuleInfo(name, path, rel, is_package, root, facts)
        previous = self.by_name.get(name)
        if previous is None or len(previous.root.parts) > len(root.parts):
            self.by_name[name] = info
        # Namespace-package names: the same file seen from each folder above its root,
        # up to the project root and never beyond it (root is the project root or inside it).
        parts = list(rel_parts)
        parts[-1] = _stem(parts[-1])
        if is_package:
            parts.pop()
        for start in range(len(root_parts), -1, -1):
            alias = ".".join(parts[start:])
            # A name under an installed package's (celery.py at a root) never names a project
            # module: `import celery` is Celery's.
            if alias and all(part.isidentifier() for part in alias.split(".")) and parts[start] not in EXTERNAL_TOP_LEVEL:
                self._candidates.setdefault(alias, []).append(info)

    def modules(self) -> List[ModuleInfo]:
        return list(self.by_name.values())

    def facts_by_path(self) -> Dict[Path, ModuleFacts]:
        return dict(self._facts_by_path)

    def get(self, name: str, near: Optional[ModuleInfo] = None) -> Optional[ModuleInfo]:
        """The module imported as ``name``; ``near`` breaks ties toward the importer's root."""
        found = self._candidates.get(name)
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        if near is not None:
            for info in found:
                if info.root_key == near.root_key:
                    return info
        return min(found, key=lambda info: (len(info.root.parts), info.rel))

    def absolute(self, importer: ModuleInfo, name: str) -> str:
        """Resolve a relative module name (leading dots) against the importer."""
        if not name.startswith("."):
            return name
        level = len(name) - len(name.lstrip("."))
        rest = name[level:]
        base = importer.package
        for _ in range(level - 1):
            base = base.rpartition(".")[0]
        if base and rest:
            return f"{base}.{rest}"
        return base or rest

    def longest_module_prefix(self, dotted: str, near: Optional[ModuleInfo] = None) -> Tuple[Optional[ModuleInfo], List[str]]:
        """Split ``a.b.c.d`` into the longest importable project module and the attributes after it."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            info = self.get(".".join(parts[:cut]), near)
            if info is not None:
                return info, parts[cut:]
        return None, parts
