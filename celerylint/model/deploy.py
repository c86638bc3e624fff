"""`celery ... worker` commands and deployment environment found in non-Python files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

from celerylint.model.app_config import Origin
from celerylint.model.process_env import FileProcesses, ProcessEnv, WebCommand, processes_of, starts_processes

MAX_FILE_BYTES = 1_000_000
# Two linear searches, not one `celery.*worker` pattern: that backtracks quadratically on a long
# line of repeated `celery` words (a 1 MB line took minutes).
CELERY_WORD = re.compile(r"\bcelery\b")
WORKER_WORD = re.compile(r"\bworker\b")
# No real worker command is longer; longer logical lines (generated data) are not commands.
MAX_COMMAND_CHARS = 10_000
# A backslash before whitespace or at the end: every shell continuation has one (a line that
# `rstrip()` leaves ending in a backslash), and most files have none.
CONTINUATION = re.compile(r"\\(?:\s|\Z)")
# Dependency declarations: requirements files, pyproject/setup.cfg/Pipfile lists, lock files.
DEPENDENCY_FILES = re.compile(r"(requirements[^/]*\.(txt|in)|pyproject\.toml|setup\.cfg|Pipfile(\.lock)?|poetry\.lock|uv\.lock)$", re.IGNORECASE)
TRACKED_PACKAGES = ("celery", "kombu", "flask", "flask-sqlalchemy")
PINNED_NAMES = ("celery", "kombu", "flask")  # what every alternative of PINNED starts with
PINNED = re.compile(r"(?i)\b(celery|kombu|flask[-_]sqlalchemy|flask)\b\s*(?:\[[^\]]*\])?\s*(?:==|~=|>=|===)\s*v?(\d+(?:\.\d+)*)")
LOCKED = re.compile(r'(?im)^name\s*=\s*"(celery|kombu|flask-sqlalchemy|flask)"\s*\nversion\s*=\s*"(\d+(?:\.\d+)*)')
COMPOSE_OVERRIDE = re.compile(r"^(docker-)?compose\.override\.ya?ml$", re.IGNORECASE)
ENV_SETTING = re.compile(r"\b(CELERY_RESULT_BACKEND|CELERY_BROKER_URL|CELERY_CONFIG_MODULE)\b\s*[:=]")


# Worker options whose values change an answer, by every spelling Celery accepts.
VALUE_OPTIONS = {
    "-A": "app", "--app": "app",
    "-Q": "queues", "--queues": "queues",
    "-X": "exclude_queues", "--exclude-queues": "exclude_queues",
    "-I": "include", "--include": "include",
    "-P": "pool", "--pool": "pool",
    "-b": "broker", "--broker": "broker",
    "--result-backend": "result_backend",
    "--time-limit": "time_limit", "--soft-time-limit": "soft_time_limit",
}
TOKEN = re.compile(r'"([^"]*)"|\'([^\']*)\'|([^\s\[\];"\']+)')


def option_value(values: Tuple[Tuple[str, str], ...], name: str) -> Optional[str]:
    """The value given to a worker option (by its canonical name), or None."""
    return next((value for key, value in values if key == name), None)


def option_items(values: Tuple[Tuple[str, str], ...], name: str) -> Optional[Tuple[str, ...]]:
    """A comma-separated option (`-Q a,b`) as its items, or None when not given."""
    value = option_value(values, name)
    return None if value is None else tuple(item for item in value.split(",") if item)


@dataclass(frozen=True)
class WorkerCommand:
    app: str  # the -A / --app value
    origin: Origin
    options: Tuple[str, ...]  # every --long option named on the line
    values: Tuple[Tuple[str, str], ...] = ()  # ("queues", "a,b"), ("pool", "gevent"), ...
    env: Optional[ProcessEnv] = None  # the environment it starts with, when the file says

    def value(self, name: str) -> Optional[str]:
        return option_value(self.values, name)

    def listed(self, name: str) -> Optional[Tuple[str, ...]]:
        return option_items(self.values, name)


@dataclass(frozen=True)
class DeployFacts:
    workers: Tuple[WorkerCommand, ...]
    env_settings: Tuple[Tuple[str, Origin], ...]  # CELERY_RESULT_BACKEND=... in deployment files
    # Declared versions of the packages whose behaviour rules depend on: (package, version, where).
    versions: Tuple[Tuple[str, str, Origin], ...] = ()
    # Web processes (gunicorn, uwsgi, `flask run`, ...) with their environment.
    webs: Tuple[WebCommand, ...] = ()
    # Variables a process may load from a file the deployment does not name for it
    # (a Dockerfile's ENV, a .env file the code or the platform reads).
    ambient: Tuple[str, ...] = ()

    def version(self, package: str) -> Optional[Tuple[int, ...]]:
        """The declared version of a package (the first declaration found), or None: unknown,
        which rules read as the latest release."""
        for name, version, _ in self.versions:
            if name == package:
                return tuple(int(part) for part in version.split(".") if part.isdigit())
        return None


def _logical_lines(text: str) -> List[Tuple[int, str]]:
    """Lines with shell continuations joined, numbered by their first physical line; a logical
    line is cut at MAX_COMMAND_CHARS (the rest of it is no worker command)."""
    if CONTINUATION.search(text) is None:  # no line ends in a backslash: one line each
        return [(number, line[:MAX_COMMAND_CHARS]) for number, line in enumerate(text.splitlines(), 1)]
    return _joined_lines(text)


def _joined_lines(text: str) -> List[Tuple[int, str]]:
    result: List[Tuple[int, str]] = []
    pending: List[str] = []
    size = 0
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start, size = number, 0
        stripped = line.rstrip()
        continued = stripped.endswith("\\")
        part = stripped[:-1] + " " if continued else line
        if size < MAX_COMMAND_CHARS:
            pending.append(part[: MAX_COMMAND_CHARS - size])
            size += len(pending[-1])
        if continued:
            continue
        result.append((start, "".join(pending)))
        pending = []
    if pending:
        result.append((start, "".join(pending)))
    return result


def _is_worker_line(line: str) -> bool:
    return "worker" in line and CELERY_WORD.search(line) is not None and WORKER_WORD.search(line) is not None


def _words(line: str) -> List[str]:
    """The words of a command wherever it is written: a shell line, a TOML string, a YAML or JSON
    list (quoted items stay whole, so `"-Q", "a,b"` keeps its comma)."""
    words: List[str] = []
    for quoted_double, quoted_single, bare in TOKEN.findall(line):
        word = quoted_double or quoted_single or bare.strip(",")
        words.extend(word.split() if (quoted_double or quoted_single) else [word])
    return [word for word in words if word]


def parse_command(line: str) -> Tuple[str, Tuple[str, ...], Tuple[Tuple[str, str], ...]]:
    """The -A/--app value, every --long option named, and the values of the options that matter."""
    words = _words(line)
    options: List[str] = []
    values: List[Tuple[str, str]] = []
    for index, word in enumerate(words):
        if word.startswith("--"):
            options.append(word.split("=", 1)[0])
        name, value = _option_value(word, words[index + 1] if index + 1 < len(words) else None)
        if name is not None and value is not None:
            values.append((name, value))
    app = next((value for name, value in values if name == "app"), "")
    return app, tuple(options), tuple(values)


def _option_value(word: str, following: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """`--queues=a`, `--queues a`, `-Q a`, `-Qa`: the option's canonical name and its value."""
    if word.startswith("--"):
        flag, equals, value = word.partition("=")
        name = VALUE_OPTIONS.get(flag)
        return (name, value if equals else following) if name else (None, None)
    if word.startswith("-") and len(word) >= 2:
        name = VALUE_OPTIONS.get(word[:2])
        if name is None:
            return None, None
        attached = word[2:].lstrip("=")
        return name, attached or following
    return None, None


def scan_deploy_files(paths: Sequence[Path], root: Path) -> DeployFacts:
    workers: List[WorkerCommand] = []
    env: List[Tuple[str, Origin]] = []
    versions: List[Tuple[str, str, Origin]] = []
    webs: List[WebCommand] = []
    ambient: List[str] = []
    overrides = {path.parent: path.name for path in paths if COMPOSE_OVERRIDE.match(path.name)}
    for path in paths:
        try:
            # Bounded read: st_size says 0 for devices and pipes, so it is no guard.
            with open(path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError:
            continue
        if len(data) > MAX_FILE_BYTES:
            continue
        text = data.decode("utf-8", errors="replace")
        rel = path.relative_to(root).as_posix()
        if DEPENDENCY_FILES.search(path.name):
            versions.extend(_declared_versions(text, rel))
        mentions_celery = "celery" in text.lower()
        if not (mentions_celery or starts_processes(path.name)):
            continue
        lines = _logical_lines(text)
        overlay = overrides.get(path.parent)
        processes = processes_of(path.name, rel, text, lines, overlay if overlay != path.name else None)
        if processes is not None:
            webs.extend(processes.webs)
            ambient.extend(processes.ambient)
        if not mentions_celery or ("worker" not in text and ("CELERY_" not in text or ENV_SETTING.search(text) is None)):
            continue  # no line of it can hold a worker command or a Celery variable
        for number, line in lines:
            if line.lstrip().startswith("#"):
                continue  # a commented-out command or setting (shell, YAML, Procfile, ini, TOML)
            for match in ENV_SETTING.finditer(line):
                env.append((match.group(1), Origin(rel, number, match.start() + 1)))
            if _is_worker_line(line):
                app, options, values = parse_command(line)
                if app and re.fullmatch(r"[A-Za-z_][\w.]*(:[\w.]+)?", app):
                    workers.extend(_commands(app, Origin(rel, number, 1), options, values, processes))
    return DeployFacts(tuple(workers), tuple(env), tuple(versions), tuple(webs), tuple(sorted(set(ambient))))


def _commands(
    app: str, where: Origin, options: Tuple[str, ...], values: Tuple[Tuple[str, str], ...], processes: Optional[FileProcesses]
) -> List[WorkerCommand]:
    """The worker command, once for each process that runs it (compose services sharing an
    anchor's command each have their environment)."""
    envs = list(dict.fromkeys(processes.envs_at(where.line))) if processes is not None else []
    return [WorkerCommand(app, where, options, values, env) for env in envs] or [WorkerCommand(app, where, options, values)]


def _declared_versions(text: str, rel: str) -> List[Tuple[str, str, Origin]]:
    found = []
    for match in [*LOCKED.finditer(text), *_pinned(text)]:
        line = text.count("\n", 0, match.start()) + 1
        package = match.group(1).lower().replace("_", "-")
        found.append((package, match.group(2), Origin(rel, line, 1)))
    return found


def _pinned(text: str) -> Iterator["re.Match[str]"]:
    """PINNED.finditer(text), tried only where a package's name starts: the expression's
    case-insensitive alternation crawls through a lock file (5 ms for saleor's uv.lock), while
    finding the names in the lowered text is memchr-fast."""
    if not text.isascii():  # case-insensitive matching of other letters is not str.lower's
        yield from PINNED.finditer(text)
        return
    lowered = text.lower()
    starts: List[int] = []
    for name in PINNED_NAMES:
        at = lowered.find(name)
        while at != -1:
            starts.append(at)
            at = lowered.find(name, at + 1)
    end = 0
    for start in sorted(set(starts)):
        if start < end:
            continue  # inside the previous match, as finditer would skip it
        match = PINNED.match(text, start)
        if match is not None:
            end = match.end()
            yield match
