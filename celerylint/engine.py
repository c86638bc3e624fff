"""The pipeline: files -> facts -> project model -> rules -> findings."""

from __future__ import annotations

import gc
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import pathspec

from celerylint.cache import FactsCache, content_key
from celerylint.config import ConfigError, Settings, check_code
from celerylint import suppress
from celerylint.discover import DEFAULT_EXCLUDES, FileSet, find_root, list_files, within
from celerylint.facts import facts_from_bytes
from celerylint.facts.types import ModuleFacts, SyntaxErrorFact
from celerylint.model.commands import scan_deploy_files
from celerylint.model.modules import ModuleIndex
from celerylint.model.project import Project
from celerylint.rules import ALL_RULES, SYNTAX_ERROR_CODE, Finding

# Below this many files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 64
MAX_FILE_BYTES = 10_000_000


def _read(path: Path, overrides: Mapping[Path, bytes]) -> Tuple[Optional[bytes], Optional[ModuleFacts]]:
    """The file's bytes (unsaved editor content first), or the facts that say why there are none."""
    override = overrides.get(path)
    if override is not None:
        return override, None
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            message = f"file is larger than {MAX_FILE_BYTES} bytes; not analysed"
            return None, ModuleFacts(syntax_error=SyntaxErrorFact(message, 1, 1))
        return path.read_bytes(), None
    except OSError as error:
        message = f"cannot read file: {error.strerror or error}"
        return None, ModuleFacts(syntax_error=SyntaxErrorFact(message, 1, 1))


def load_facts(
    paths: Sequence[Path], cache: FactsCache, jobs: int = 0, overrides: Mapping[Path, bytes] = {}
) -> List[ModuleFacts]:
    """Facts for each path: from the cache by content, else parsed (in parallel when worth it)."""
    results: List[Optional[ModuleFacts]] = [None] * len(paths)
    missing: List[Tuple[int, str, bytes]] = []
    for position, path in enumerate(paths):
        data, failure = _read(path, overrides)
        if data is None:
            results[position] = failure
            continue
        key = content_key(data)
        cached = cache.get(key)
        if cached is not None:
            results[position] = cached
        else:
            missing.append((position, key, data))
    workers = jobs or os.cpu_count() or 1
    blobs = [data for _, _, data in missing]
    if workers > 1 and len(missing) >= PARALLEL_THRESHOLD:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            computed = list(pool.map(facts_from_bytes, blobs, chunksize=8))
    else:
        computed = [facts_from_bytes(data) for data in blobs]
    for (position, key, _), facts in zip(missing, computed):
        results[position] = facts
        cache.put(key, facts)
    cache.save()
    return [facts if facts is not None else ModuleFacts() for facts in results]


@dataclass
class Analysis:
    root: Path
    files: FileSet
    facts: Dict[Path, ModuleFacts]
    project: Project
    overrides: Mapping[Path, bytes] = field(default_factory=dict)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def source_lines(self, rel: str) -> Optional[List[str]]:
        """The file's lines as celerylint saw them (editor content included), or None."""
        path = self.root / rel
        data = self.overrides.get(path)
        if data is None:
            try:
                data = path.read_bytes()
            except OSError:
                return None
        return data.decode("utf-8", errors="replace").splitlines()


def analyse(
    paths: Sequence[Path], settings: Settings, jobs: int = 0, overrides: Mapping[Path, bytes] = {}
) -> Analysis:
    for path in paths:
        if not path.exists() and path.resolve() not in overrides:
            raise ConfigError(f"{path}: no such file or directory")
    root = find_root(list(paths))
    files = list_files(root, settings.respect_gitignore, paths, exclude_spec(settings), settings.force_exclude)
    python = list(files.python) + [p for p in overrides if p not in files.python and p.suffix == ".py"]
    files = FileSet(files.root, tuple(python), files.deploy)
    facts = load_facts(files.python, FactsCache(root, settings.use_cache), jobs, overrides)
    gc.freeze()  # facts live for the whole run: the cyclic GC need never scan them
    index = ModuleIndex(root, zip(files.python, facts))
    deploy = scan_deploy_files(files.deploy, root)
    project = Project(index, deploy, settings.worker_apps)
    return Analysis(root, files, dict(zip(files.python, facts)), project, overrides)


def selected(code: str, settings: Settings) -> bool:
    """The most specific matching prefix wins between select and ignore, as in flake8/ruff."""

    def best(prefixes: Sequence[str]) -> int:
        lengths = [0 if p == "ALL" else len(p) for p in prefixes if p == "ALL" or code.startswith(p)]
        return max(lengths, default=-1)

    chosen = best((settings.select or ("ALL",)) + settings.extend_select)
    return chosen >= 0 and chosen > best(settings.ignore)


def validate_codes(settings: Settings) -> None:
    for prefix in settings.select + settings.ignore + settings.extend_select:
        check_code(prefix, "select/ignore")


def findings_for(analysis: Analysis, targets: Sequence[Path], settings: Settings) -> List[Finding]:
    project = analysis.project
    wanted = [target.resolve() for target in targets]
    findings: List[Finding] = []
    if selected(SYNTAX_ERROR_CODE, settings):
        for path, facts in analysis.facts.items():
            error = facts.syntax_error
            if error is not None:
                message = f"{error.message}; the file was not analysed"
                findings.append(Finding(analysis.rel(path), error.line, error.col, SYNTAX_ERROR_CODE, message))
    for rule in ALL_RULES:
        if selected(rule.code, settings):
            findings.extend(rule.check(project))
    kept = sorted({f for f in findings if within((analysis.root / f.path).resolve(), wanted)})
    lines = {rel: analysis.source_lines(rel) for rel in {f.path for f in kept}}
    return suppress.apply(kept, lines, settings.per_file_ignores, settings.disable_noqa)


def run(paths: Sequence[Path], settings: Settings, jobs: int = 0) -> Tuple[Analysis, List[Finding]]:
    """Analyse the project around the paths; report findings in the paths only."""
    analyses = run_all(paths, settings, jobs)
    return analyses[0][0], [finding for _, findings in analyses for finding in findings]


def run_all(
    paths: Sequence[Path], settings: Settings, jobs: int = 0, overrides: Mapping[Path, bytes] = {}
) -> List[Tuple[Analysis, List[Finding]]]:
    """One analysis per project root: paths from different projects are linted apart."""
    validate_codes(settings)
    for path in paths:
        if not path.exists() and path.resolve() not in overrides:
            raise ConfigError(f"{path}: no such file or directory")
    by_root: Dict[Path, List[Path]] = {}
    for path in paths:
        by_root.setdefault(find_root([path]), []).append(path)
    results = []
    for group in by_root.values():
        analysis = analyse(group, settings, jobs, overrides)
        results.append((analysis, findings_for(analysis, group, settings)))
    return results


def exclude_spec(settings: Settings) -> pathspec.PathSpec:
    patterns = list(settings.exclude) if settings.exclude is not None else list(DEFAULT_EXCLUDES)
    return pathspec.GitIgnoreSpec.from_lines(patterns + list(settings.extend_exclude))


def rule_names() -> Dict[str, str]:
    names = {rule.code: rule.name for rule in ALL_RULES}
    names[SYNTAX_ERROR_CODE] = "syntax-error"
    return names
