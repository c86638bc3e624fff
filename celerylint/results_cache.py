"""The answer of a whole run, kept by what it depends on: when nothing a run reads has changed
(the files listed with their size and modification time, the settings, the current folder,
celerylint's own code and the installed Celery and kombu it takes ground truth from), the
findings are read back without loading facts, building the model or importing libcst.

Stored as JSON beside the facts caches (``cache.cache_dir``), one file per way of invoking a
run (current folder and named paths), written atomically; a missing, truncated, foreign or
stale file is ignored. Runs with unsaved editor buffers (stdin) are never cached.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from celerylint import __version__
from celerylint.cache import FILE_SUFFIX_RESULTS, RESULTS_PREFIX, TEMP_PREFIX, TEMP_SUFFIX, blake2b, cache_dir, prune, read_regular_file, stat_or_none
from celerylint.discover import read_lines
from celerylint.findings import Finding, Related
from celerylint.groundtruth import installed_version
from celerylint.runplan import RunPlan

FORMAT = 2  # 2: findings carry their fix hint
PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class StoredProject:
    """What a report needs of a project answered from the cache: its root and its lines."""

    root: Path

    def source_lines(self, rel: str) -> Optional[List[str]]:
        return read_lines(self.root / rel)


@dataclass(frozen=True)
class StoredRun:
    projects: List[Tuple[StoredProject, List[Finding]]]
    notices: List[str]

    @property
    def has_findings(self) -> bool:
        return any(findings for _, findings in self.projects)


# A file modified this recently may change again within the file system's timestamp
# granularity without its size or time changing ("racily clean", as git calls it): its
# content goes into the key as well.
RACY_SECONDS = 3


FileStats = Dict[str, Optional[os.stat_result]]  # by str(path); None: the file could not be stat'ed


def file_stats(run_plan: RunPlan) -> FileStats:
    """Each listed file's stat, taken once: the run key is made of them, and the facts cache
    finds unchanged files by them (a stat taken before any read, so a write since shows)."""
    return {str(path): stat_or_none(path) for project in run_plan.projects for path in project.files.python + project.files.deploy}


def _stat_line(path: Path, now: float, info: Optional[os.stat_result]) -> str:
    if info is None:
        return f"{path}\0missing"
    line = f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ino}"
    if now - info.st_mtime < RACY_SECONDS:
        read = read_regular_file(path)
        line += "\0" + (blake2b(read[0], digest_size=16).hexdigest() if read else "unreadable")
    return line


def _code_fingerprint(now: float) -> List[str]:
    """celerylint's own sources, by size and time: any edit (a development checkout) is a new key."""
    return [_stat_line(path, now, stat_or_none(path)) for path in sorted(PACKAGE.rglob("*.py"))]


def run_key(run_plan: RunPlan, paths: Sequence[Path], stats: FileStats) -> Optional[str]:
    """The digest of everything the run's findings depend on, or None when it cannot be cached.
    ``stats``: the listed files' (``file_stats``)."""
    now = time.time()
    lines: List[str] = [f"format {FORMAT}", f"celerylint {__version__}", f"cwd {os.getcwd()}"]
    lines.append(f"celery {installed_version('celery')} kombu {installed_version('kombu')}")
    lines.append("paths " + "\0".join(str(path) for path in paths))
    lines.extend(_code_fingerprint(now))
    lines.extend(run_plan.notices)
    for project in run_plan.projects:
        # What changes only the presentation is not part of the answer.
        settings = replace(project.settings, output_format="text", use_cache=True, cache_dir=None)
        lines.append(f"project {project.root} {project.targets!r} {settings!r}")
        lines.extend(project.files.notices)
        lines.extend(
            _stat_line(path, now, stats[str(path)] if str(path) in stats else stat_or_none(path)) for path in project.files.python + project.files.deploy
        )
    digest = blake2b(digest_size=20)
    for line in lines:
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def _file_for(run_plan: RunPlan, paths: Sequence[Path]) -> Optional[Path]:
    """One file per invocation (folder and paths), so that alternating runs do not evict each other."""
    if not run_plan.projects:
        return None
    settings = run_plan.projects[0].settings
    if not settings.use_cache:
        return None
    folder = cache_dir(settings.cache_dir)
    if folder is None:
        return None
    identity = "\0".join([os.getcwd()] + [str(path) for path in paths])
    name = blake2b(identity.encode("utf-8", "surrogateescape"), digest_size=10).hexdigest()
    return folder / f"{RESULTS_PREFIX}{name}{FILE_SUFFIX_RESULTS}"


def _finding(data: Any) -> Finding:
    related = tuple(Related(str(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in data[7])
    return Finding(str(data[0]), int(data[1]), int(data[2]), str(data[3]), str(data[4]), int(data[5]), int(data[6]), related, str(data[8]))


def load(run_plan: RunPlan, paths: Sequence[Path], key: str) -> Optional[StoredRun]:
    """The stored answer for this key, or None (missing, stale, truncated, or not ours)."""
    location = _file_for(run_plan, paths)
    if location is None:
        return None
    read = read_regular_file(location)
    if read is None:
        return None
    try:
        stored = json.loads(read[0])
        if stored["format"] != FORMAT or stored["key"] != key:
            return None
        projects = [
            (StoredProject(Path(str(project["root"]))), [_finding(item) for item in project["findings"]])
            for project in stored["projects"]
        ]
        notices = [str(notice) for notice in stored["notices"]]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        return None
    return StoredRun(projects, notices)


def store(run_plan: RunPlan, paths: Sequence[Path], key: str, projects: Sequence[Tuple[Path, Sequence[Finding]]], notices: Sequence[str]) -> None:
    """Keep this run's answer; never fails the run."""
    location = _file_for(run_plan, paths)
    if location is None:
        return
    document: Dict[str, Any] = {
        "format": FORMAT,
        "key": key,
        "projects": [
            {
                "root": str(root),
                "findings": [
                    [f.path, f.line, f.col, f.code, f.message, f.end_line, f.end_col, [list(r.__dict__.values()) for r in f.related], f.fix_hint]
                    for f in findings
                ],
            }
            for root, findings in projects
        ],
        "notices": list(notices),
    }
    temporary: Optional[str] = None
    try:
        data = json.dumps(document).encode("ascii")  # non-UTF-8 file names stay \\udcXX escapes
        location.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=location.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
        with os.fdopen(handle, "wb") as output:
            output.write(data)
        os.replace(temporary, location)
        temporary = None
    except (OSError, ValueError, UnicodeError):
        return
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
    prune(location.parent, keep=location)
