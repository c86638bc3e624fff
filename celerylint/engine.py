"""The pipeline: files -> facts -> project model -> rules -> findings, one project at a time."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar

from celerylint import suppress
from celerylint.cache import FactsCache, content_key, stat_or_none
from celerylint.config import Settings
from celerylint.discover import MAX_FILE_BYTES, FileSet, absolute, is_inside, list_files, read_lines, within
from celerylint.facts import facts_from_bytes
from celerylint.facts.types import ModuleFacts
from celerylint.findings import Finding
from celerylint.model.deploy import scan_deploy_files
from celerylint.model.modules import ModuleIndex, is_test_path
from celerylint.model.project import Project, build_project
from celerylint.progress import ProgressCallback
from celerylint.rules import ALL_RULES, RULES_BY_CODE, SYNTAX_ERROR_CODE
from celerylint.runplan import RunPlan, SettingsFor, display_notice, exclude_spec, plan, plan_run

# Facts of test code (the cheap scan) are cached apart from a detailed file of the same content.
TEST_KEY_SUFFIX = "-scan"
# Below this many files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 64

T = TypeVar("T")

def _read(path: Path, overrides: Mapping[Path, bytes]) -> Tuple[Optional[bytes], Optional[str]]:
    """The file's bytes (unsaved editor content first), or why there are none."""
    override = overrides.get(path)
    if override is not None:
        return override, None
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return None, f"cannot read ({error.strerror or error})"
    if len(data) > MAX_FILE_BYTES:
        return None, f"larger than {MAX_FILE_BYTES // 1_000_000} MB, not analysed"
    return data, None


@dataclass(frozen=True)
class _Job:
    """One file to parse: its bytes and key when the main process read it to look in the cache,
    else None (a cold start: the worker that parses it reads it too)."""

    path: str
    rel: str
    detailed: bool
    keyed: bool
    data: Optional[bytes] = None
    key: str = ""


def _content_key(data: bytes, rel: str, detailed: bool, keyed: bool) -> str:
    # With no cache to look in or keep (`--no-cache`), a file's key is never used: no hashing.
    if not keyed:
        return rel
    return content_key(data) if detailed else content_key(data) + TEST_KEY_SUFFIX


def _job_facts(job: _Job) -> Tuple[str, ModuleFacts, Optional[str]]:
    """(content key, facts, why the file could not be read) for one job; in a worker process."""
    data, key = job.data, job.key
    if data is None:
        data, why = _read(Path(job.path), {})
        if data is None:
            return "", ModuleFacts(unanalysed=why), why
        key = _content_key(data, job.rel, job.detailed, job.keyed)
    return key, facts_from_bytes(data, job.detailed), None


def _parse_all(jobs: List[_Job], workers: int, progress: Optional[ProgressCallback] = None) -> List[Tuple[str, ModuleFacts, Optional[str]]]:
    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(jobs) >= PARALLEL_THRESHOLD:
        from concurrent.futures import ProcessPoolExecutor  # with multiprocessing, 5 ms to import

        # Workers build and drop whole syntax trees, which have no cycles: no cyclic GC there.
        with ProcessPoolExecutor(max_workers=workers, initializer=gc.disable) as pool:
            return list(_counted(pool.map(_job_facts, jobs, chunksize=8), len(jobs), progress))
    return list(_counted(map(_job_facts, jobs), len(jobs), progress))


def _counted(parsed: Iterator[T], total: int, progress: Optional[ProgressCallback]) -> Iterator[T]:
    """The facts as they come, telling the progress callback how many of total are done."""
    for done, facts in enumerate(parsed, 1):
        if progress is not None:
            progress(done, total)
        yield facts


@dataclass(frozen=True)
class LoadedFacts:
    """Facts per file as the model sees them, the facts whose syntax errors are reported
    (an unsaved editor buffer that does not parse is reported, but the model uses the file
    on disk), and one notice line per file that could not be used."""

    model: Dict[Path, ModuleFacts]
    reported: Dict[Path, ModuleFacts]
    notices: Tuple[str, ...]


def load_facts(
    root: Path,
    paths: Sequence[Path],
    cache: FactsCache,
    jobs: int = 0,
    overrides: Mapping[Path, bytes] = {},
    progress: Optional[ProgressCallback] = None,
    stats: Mapping[str, Optional[os.stat_result]] = {},
) -> LoadedFacts:
    """Facts for each path: from the cache by content, else parsed (in parallel when worth it).
    ``stats``: files already stat'ed this run, by str(path) (None: could not be), not stat'ed again."""
    model: Dict[Path, ModuleFacts] = {}
    notices: List[str] = []
    missing: List[Tuple[Path, Optional[os.stat_result], _Job]] = []
    keyed = cache.enabled or cache.remembers_stats
    # A cold start has nothing to find by content: the workers read the files they parse,
    # instead of the main process reading them all before the first is parsed.
    cold = not cache.entries
    for path in paths:
        # A file whose size and mtime are those recorded when it was last read is not read again
        # (the facts cache keeps them; so does the editor server between analyses).
        name = str(path)
        unsaved = bool(overrides) and path in overrides  # (a Path's hash costs; most runs have none)
        info = (stats[name] if name in stats else stat_or_none(path)) if cache.remembers_stats and not unsaved else None
        if info is not None:
            known = cache.key_by_stat(name, info.st_size, info.st_mtime_ns)
            cached = cache.get(known) if known is not None else None
            if cached is not None:
                model[path] = cached
                continue
        rel = path.relative_to(root).as_posix()
        # Test code never runs on a worker and no rule reports in it: its imports, classes and
        # top-level bindings are all the model needs (a fraction of the cost and the memory).
        detailed = not is_test_path(rel)
        if cold and not unsaved:
            missing.append((path, info, _Job(name, rel, detailed, keyed)))
            continue
        data, why = _read(path, overrides)
        if data is None:
            notices.append(f"{rel}: skipped: {why}")
            model[path] = ModuleFacts(unanalysed=why)
            continue
        key = _content_key(data, rel, detailed, keyed)
        if info is not None:  # taken before the read: a write since then shows as a change
            cache.remember_stat(path, info.st_size, info.st_mtime_ns, key)
        cached = cache.get(key)
        if cached is not None:
            model[path] = cached
        else:
            missing.append((path, None, _Job(str(path), rel, detailed, keyed, data, key)))
    for (path, info, job), (key, facts, why) in zip(missing, _parse_all([job for _, _, job in missing], jobs, progress)):
        model[path] = facts
        if why is not None:
            notices.append(f"{job.rel}: skipped: {why}")
            continue
        if info is not None:  # taken before the worker read the file
            cache.remember_stat(path, info.st_size, info.st_mtime_ns, key)
        cache.put(key, facts)
    reported = dict(model)
    for path in overrides:
        buffer = model.get(path)
        if buffer is not None and buffer.syntax_error is not None and path.is_file():
            # The buffer is half-typed: report it, but let the project keep the saved file.
            data, _ = _read(path, {})
            if data is not None:
                model[path] = facts_from_bytes(data, not is_test_path(path.relative_to(root).as_posix()))
    cache.save()
    return LoadedFacts({path: model[path] for path in paths}, reported, tuple(notices))


@dataclass
class Analysis:
    """One project analysed: its files, facts, model, and what could not be used."""

    root: Path
    files: FileSet
    facts: Dict[Path, ModuleFacts]  # as reported (an editor's unsaved buffer included)
    project: Project
    settings: Settings
    overrides: Mapping[Path, bytes] = field(default_factory=dict)
    notices: Tuple[str, ...] = ()

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def source_lines(self, rel: str) -> Optional[List[str]]:
        """The file's lines as celerylint saw them (editor content included), or None."""
        path = self.root / rel
        data = self.overrides.get(path)
        if data is None:
            return read_lines(path)
        return data.decode("utf-8", errors="replace").splitlines()


def project_model(root: Path, files: FileSet, facts: Mapping[Path, ModuleFacts], settings: Settings) -> Project:
    """The model of the project at root from its files' facts."""
    index = ModuleIndex(root, [(path, facts[path]) for path in files.python])
    return build_project(index, scan_deploy_files(files.deploy, root), settings.worker_apps)


def analyse_project(
    root: Path,
    targets: Sequence[Path],
    settings: Settings,
    jobs: int = 0,
    overrides: Mapping[Path, bytes] = {},
    files: Optional[FileSet] = None,
    progress: Optional[ProgressCallback] = None,
    cache: Optional[FactsCache] = None,
    stats: Mapping[str, Optional[os.stat_result]] = {},
) -> Analysis:
    """Analyse the whole project at root; ``targets`` are the named paths inside it.
    ``cache``: facts kept by the caller between analyses (the editor server), else the disk cache."""
    if files is None:
        files = list_files(root, settings.respect_gitignore, targets, exclude_spec(settings), settings.force_exclude)
    unsaved = [path for path in overrides if is_inside(path, root) and path.suffix == ".py" and path not in files.python]
    files = replace(files, python=files.python + tuple(unsaved))
    if cache is None:
        cache = FactsCache(root, settings.use_cache, settings.cache_dir)
    loaded = load_facts(root, files.python, cache, jobs, overrides, progress, stats)
    project = project_model(root, files, loaded.model, settings)
    notices = files.notices + loaded.notices
    return Analysis(root, files, loaded.reported, project, settings, overrides, notices)


def selected(code: str, settings: Settings) -> bool:
    """The most specific matching prefix wins between select and ignore, as in flake8/ruff."""

    def best(prefixes: Sequence[str]) -> int:
        lengths = [0 if p == "ALL" else len(p) for p in prefixes if p == "ALL" or code.startswith(p)]
        return max(lengths, default=-1)

    chosen = best((settings.select or ("ALL",)) + settings.extend_select)
    return chosen >= 0 and chosen > best(settings.ignore)


def rule_findings(project: Project, settings: Settings) -> List[Finding]:
    findings: List[Finding] = []
    for rule in ALL_RULES:
        if selected(rule.code, settings):
            findings.extend(rule.run(project))
    return findings


def findings_for(analysis: Analysis, targets: Sequence[Path]) -> List[Finding]:
    """The project's findings that rest on a named path: their own location or a related one."""
    settings = analysis.settings
    wanted = [absolute(target) for target in targets]
    findings = rule_findings(analysis.project, settings)
    if selected(SYNTAX_ERROR_CODE, settings):
        for path, facts in analysis.facts.items():
            error = facts.syntax_error
            if error is not None:
                message = f"{error.message}; the file was not analysed"
                hint = RULES_BY_CODE[SYNTAX_ERROR_CODE].fix
                findings.append(Finding(analysis.rel(path), error.line, error.col, SYNTAX_ERROR_CODE, message, fix_hint=hint))
    kept = sorted({f for f in findings if any(within(analysis.root / rel, wanted) for rel in f.paths)})
    lines = {rel: analysis.source_lines(rel) for rel in {f.path for f in kept}}
    return suppress.apply(kept, lines, settings.per_file_ignores, settings.disable_noqa)


def silenced_by_broken_files(analysis: Analysis, findings: Sequence[Finding]) -> List[str]:
    """One notice per project whose unparsable modules hide findings: the rules that would
    report more if those modules were absent (only worth asking when one is imported)."""
    index = analysis.project.index
    candidates = [info for info in index.modules() if info.broken and not info.is_test]
    if not candidates:
        return []  # the usual case: no need for the reverse import graph
    importers = analysis.project.graph.importers()
    broken = [info for info in candidates if importers.get(info.name)]
    if not broken:
        return []
    kept = [path for path in analysis.files.python if path not in {info.path for info in broken}]
    without = project_model(analysis.root, replace(analysis.files, python=tuple(kept)), analysis.project.index.facts_by_path(), analysis.settings)
    before = {(f.code, f.path, f.line) for f in findings}
    hidden = sorted({f.code for f in rule_findings(without, analysis.settings) if (f.code, f.path, f.line) not in before})
    if not hidden:
        return []
    names = ", ".join(info.rel for info in sorted(broken, key=lambda info: info.rel))
    return [f"{names}: cannot be analysed, so {', '.join(hidden)} may miss findings where it is imported; fix it to see them"]


@dataclass
class RunResult:
    """Every project of a run, each with its findings, plus the run's notices."""

    projects: List[Tuple[Analysis, List[Finding]]]
    notices: List[str]

    @property
    def has_findings(self) -> bool:
        return any(findings for _, findings in self.projects)


@dataclass
class Analyses:
    """Every project a run covers, each with the named paths inside it, plus the run's notices."""

    projects: List[Tuple[Analysis, List[Path]]]
    notices: List[str]


def analyse_all(
    paths: Sequence[Path],
    settings_for: SettingsFor,
    jobs: int = 0,
    overrides: Mapping[Path, bytes] = {},
    run_plan: Optional[RunPlan] = None,
    progress: Optional[ProgressCallback] = None,
    stats: Mapping[str, Optional[os.stat_result]] = {},
) -> Analyses:
    """One analysis per project the paths cover (see ``runplan.plan_run``)."""
    overrides = {absolute(path): data for path, data in overrides.items()}
    if run_plan is None:
        run_plan = plan_run(paths, settings_for, overrides)
    projects: List[Tuple[Analysis, List[Path]]] = []
    notices: List[str] = list(run_plan.notices)
    for planned in run_plan.projects:
        analysis = analyse_project(planned.root, planned.targets, planned.settings, jobs, overrides, planned.files, progress, stats=stats)
        projects.append((analysis, list(planned.targets)))
        notices.extend(display_notice(analysis.root, line) for line in analysis.notices)
    return Analyses(projects, notices)


def run_all(
    paths: Sequence[Path],
    settings_for: SettingsFor,
    jobs: int = 0,
    overrides: Mapping[Path, bytes] = {},
    run_plan: Optional[RunPlan] = None,
    progress: Optional[ProgressCallback] = None,
    stats: Mapping[str, Optional[os.stat_result]] = {},
) -> RunResult:
    """Every project the paths belong to, analysed, with the findings that rest on the paths."""
    analysed = analyse_all(paths, settings_for, jobs, overrides, run_plan, progress, stats)
    projects: List[Tuple[Analysis, List[Finding]]] = []
    notices = list(analysed.notices)
    for analysis, targets in analysed.projects:
        findings = findings_for(analysis, targets)
        projects.append((analysis, findings))
        notices.extend(display_notice(analysis.root, line) for line in silenced_by_broken_files(analysis, findings))
    return RunResult(projects, notices)


def _fixed(settings: "Settings | SettingsFor") -> SettingsFor:
    if isinstance(settings, Settings):
        return lambda root: settings
    return settings


def analyse(paths: Sequence[Path], settings: "Settings | SettingsFor", jobs: int = 0) -> Analysis:
    """The analysis of the project the first path belongs to (tests, benchmarks, inspect)."""
    root, targets = next(iter(plan(paths).items()))
    return analyse_project(root, targets, _fixed(settings)(root), jobs)


def run(paths: Sequence[Path], settings: "Settings | SettingsFor", jobs: int = 0) -> Tuple[Analysis, List[Finding]]:
    """Findings of every project the paths belong to, with the first project's analysis."""
    result = run_all(paths, _fixed(settings), jobs)
    return result.projects[0][0], [finding for _, findings in result.projects for finding in findings]
