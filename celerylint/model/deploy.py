"""`celery ... worker` commands and deployment environment found in non-Python files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple

from celerylint.model.app_config import Origin

MAX_FILE_BYTES = 1_000_000
# Two linear searches, not one `celery.*worker` pattern: that backtracks quadratically on a long
# line of repeated `celery` words (a 1 MB line took minutes).
CELERY_WORD = re.compile(r"\bcelery\b")
WORKER_WORD = re.compile(r"\bworker\b")
# No real worker command is longer; longer logical lines (generated data) are not commands.
MAX_COMMAND_CHARS = 10_000
ENV_SETTING = re.compile(r"\b(CELERY_RESULT_BACKEND|CELERY_BROKER_URL|CELERY_CONFIG_MODULE)\b\s*[:=]")


@dataclass(frozen=True)
class WorkerCommand:
    app: str  # the -A / --app value
    origin: Origin
    options: Tuple[str, ...]  # every --long option named on the line


@dataclass(frozen=True)
class DeployFacts:
    workers: Tuple[WorkerCommand, ...]
    env_settings: Tuple[Tuple[str, Origin], ...]  # CELERY_RESULT_BACKEND=... in deployment files


def _logical_lines(text: str) -> List[Tuple[int, str]]:
    """Lines with shell continuations joined, numbered by their first physical line; a logical
    line is cut at MAX_COMMAND_CHARS (the rest of it is no worker command)."""
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


def _app_option(line: str) -> Tuple[str, Tuple[str, ...]]:
    """The -A/--app value and the --long options of a command line, wherever it is quoted
    (a TOML string, a YAML/JSON list, a shell line)."""
    words = re.sub(r"[\"'\[\],;]", " ", line).split()
    app = ""
    options = []
    for index, word in enumerate(words):
        if word.startswith("--"):
            options.append(word.split("=", 1)[0])
        if word in ("-A", "--app") and index + 1 < len(words):
            app = words[index + 1]
        elif word.startswith("--app="):
            app = word.split("=", 1)[1]
        elif word.startswith("-A") and len(word) > 2 and not word.startswith("--"):
            app = word[2:].lstrip("=")
    return app, tuple(options)


def scan_deploy_files(paths: Sequence[Path], root: Path) -> DeployFacts:
    workers: List[WorkerCommand] = []
    env: List[Tuple[str, Origin]] = []
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
        if "celery" not in text.lower():
            continue
        rel = path.relative_to(root).as_posix()
        for number, line in _logical_lines(text):
            for match in ENV_SETTING.finditer(line):
                env.append((match.group(1), Origin(rel, number, match.start() + 1)))
            if _is_worker_line(line):
                app, options = _app_option(line)
                if app and re.fullmatch(r"[A-Za-z_][\w.]*(:[\w.]+)?", app):
                    workers.append(WorkerCommand(app, Origin(rel, number, 1), options))
    return DeployFacts(tuple(workers), tuple(env))
