"""The environment each deployed process starts with, and the web processes beside the workers.

Read from compose services (`environment:`, `env_file:`, anchors and merge keys), Procfile
entries (`web: X=1 gunicorn ...`), shell scripts and Makefiles (`export X=...`, `X=... cmd`),
systemd units (`Environment=`, `EnvironmentFile=`), supervisor programs (`environment=`) and
Dockerfiles (`ENV`). What a process may inherit besides is named, never guessed: two processes
that inherit the same thing (one Procfile's platform, one `env_file:`) see the same values there.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import List, Optional, Tuple

from celerylint.model import yamlish
from celerylint.model.app_config import Origin

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
FILE_NAME = re.compile(r"\.(py|ini|cfg|conf|toml|ya?ml|json|sock|pid|log|txt|sh)$")
DOTTED = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::[A-Za-z_]\w*(?:\(\))?)?")
ASSIGNMENT = re.compile(rf"^({NAME})=(.*)$", re.DOTALL)
WEB_SERVERS = frozenset({"gunicorn", "uwsgi", "daphne", "uvicorn", "hypercorn", "waitress-serve", "granian"})
SERVER_WORDS = tuple(WEB_SERVERS) + ("flask", "manage.py")  # in every command web_server names
# Words that start another program with the rest of the line: skipped to find the real one.
LAUNCHERS = frozenset({"exec", "nohup", "env", "command", "time", "stdbuf", "dumb-init", "tini", "--", "gosu", "su-exec", "chpst"})
WRAPPERS = frozenset({"wait-for-it", "wait-for", "dockerize", "wait-for-it.sh"})
RUNNERS = (("poetry", "run"), ("pipenv", "run"), ("uv", "run"), ("pdm", "run"), ("hatch", "run"), ("rye", "run"))
# A command that reads a file into its environment: what it sets is not known.
SOURCES_FILE = re.compile(r"(^|[\s;&|(])(source|\.)\s+\S|\bdotenv\b|\benv\s+\$\(|\bset\s+-a\b|\bexport\s+\$\(")


@dataclass(frozen=True)
class EnvVar:
    """A variable set for a process; value as written, None when it is passed in from outside
    (compose `- KEY` or `KEY:`, which take the value from the shell that starts compose)."""

    name: str
    value: Optional[str]
    origin: Origin


@dataclass(frozen=True)
class ProcessEnv:
    """What a process's environment is made of.

    deployment: processes started together (a compose file, a Procfile, a folder of units);
    variables: set for it, in order (a later one wins);
    inherits: what else may set variables, or None when nothing does (a compose service,
    a systemd unit). Processes that inherit the same thing see the same values there."""

    deployment: str
    variables: Tuple[EnvVar, ...] = ()
    inherits: Optional[str] = None

    def get(self, name: str) -> Optional[EnvVar]:
        for variable in reversed(self.variables):
            if variable.name == name:
                return variable
        return None


@dataclass(frozen=True)
class WebCommand:
    """A web process (gunicorn, uwsgi, `flask run`, `manage.py runserver`, ...): it publishes tasks."""

    server: str
    origin: Origin
    env: ProcessEnv
    # Dotted names on the command line (`proj.wsgi:application`): the web app it serves is one.
    targets: Tuple[str, ...] = ()


@dataclass
class FileProcesses:
    """The processes one deployment file starts: each command's lines and its environment."""

    commands: List[Tuple[int, int, ProcessEnv]] = field(default_factory=list)  # first line, last line, env
    webs: List[WebCommand] = field(default_factory=list)
    # Variables that a process of the project may load from a file (Dockerfile ENV, .env files).
    ambient: List[str] = field(default_factory=list)

    def envs_at(self, line: int) -> List[ProcessEnv]:
        return [env for first, last, env in self.commands if first <= line <= last]


def web_server(command: str) -> Optional[str]:
    """The web server a shell command line starts, or None. Each part of `a && b; c` counts,
    and `sh -c "..."` is looked into."""
    if not any(name in command for name in SERVER_WORDS):
        return None  # what it would return is written in it (shlex.split is slow, commands many)
    for part in re.split(r"&&|\|\||;|\n", command):
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            words = part.split()
        words = _program_words(words)
        if not words:
            continue
        program = PurePosixPath(words[0]).name
        if program in ("sh", "bash", "ash", "dash") and "-c" in words[1:]:
            index = words.index("-c")
            if index + 1 < len(words):
                inner = web_server(words[index + 1])
                if inner is not None:
                    return inner
            continue
        if program.endswith(".sh") or program in WRAPPERS:
            # `./wait-for-it.sh db:5432 -- gunicorn ...`, `./init.sh ./manage.py runserver`
            starts = [i for i, word in enumerate(words[1:], 1) if _starts_program(PurePosixPath(word).name)]
            inner = web_server(shlex.join(words[starts[0]:])) if starts else None
            if inner is not None:
                return inner
            continue
        args = words[1:]
        if program.startswith("python") and args[:1] == ["-m"] and len(args) > 1:
            program, args = args[1], args[2:]
        elif program.startswith("python") and args:
            program, args = PurePosixPath(args[0]).name, args[1:]
        if program in WEB_SERVERS:
            return program
        if program == "flask" and "run" in args:
            return "flask run"
        if program == "manage.py" and args[:1] in (["runserver"], ["run"]):
            return f"manage.py {args[0]}"
    return None


def _starts_program(name: str) -> bool:
    return name in WEB_SERVERS or name in ("manage.py", "flask") or re.fullmatch(r"python[\d.]*", name) is not None


def web_targets(command: str) -> Tuple[str, ...]:
    """The dotted names a web command names (`proj.wsgi:application`, `--app=proj`), one of
    which is the app it serves."""
    found = []
    for word in _split(command.replace("&&", " ").replace(";", " ")):
        value = word.partition("=")[2] if word.startswith("-") else word
        match = DOTTED.fullmatch(value)
        if match and ("." in value or ":" in value) and not FILE_NAME.search(value):
            found.append(match.group(1))
    return tuple(found)


def _web(server: str, origin: Origin, env: ProcessEnv, command: str) -> WebCommand:
    return WebCommand(server, origin, env, web_targets(command))


def _program_words(words: List[str]) -> List[str]:
    """The words from the program on: leading assignments, exec and runners skipped."""
    index = 0
    while index < len(words):
        word = words[index]
        if ASSIGNMENT.match(word) or word in LAUNCHERS:
            index += 1
            continue
        if tuple(words[index:index + 2]) in RUNNERS:
            index += 2
            continue
        break
    return words[index:]


def _prefix_assignments(words: List[str]) -> List[Tuple[str, str]]:
    """`X=1 Y=2 cmd` and `env X=1 cmd`: the assignments before the program."""
    found = []
    for word in words:
        match = ASSIGNMENT.match(word)
        if match:
            found.append((match.group(1), match.group(2)))
        elif word not in ("env", "exec", "export"):
            break
    return found


def _split(text: str) -> List[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return text.split()


# --- compose ------------------------------------------------------------------------------------


def compose_processes(text: str, rel: str, overlay: Optional[str] = None) -> Optional[FileProcesses]:
    """The services of a compose file; None when the file is no compose file this reader knows.
    ``overlay``: a file compose merges into this one (docker-compose.override.yml)."""
    try:
        document = yamlish.parse(text)
    except yamlish.YamlError:
        return None
    if not isinstance(document, yamlish.Mapping):
        return None
    services = document.get("services")
    if not isinstance(services, yamlish.Mapping):
        return None
    result = FileProcesses()
    for name, _, service in services.items:
        if not isinstance(service, yamlish.Mapping):
            continue
        env = _service_env(service, rel, overlay)
        entry = service.entry("command") or service.entry("entrypoint")
        if entry is None:
            continue
        command = _command_text(entry[2])
        result.commands.append((entry[1], max(entry[1], entry[2].end), env))
        server = web_server(command) if command is not None else None
        if server is not None:
            result.webs.append(_web(server, Origin(rel, entry[1], 1), env, command or ""))
    return result


def _command_text(node: yamlish.Node) -> Optional[str]:
    if isinstance(node, yamlish.Scalar):
        return node.text
    if isinstance(node, yamlish.Sequence) and all(isinstance(item, yamlish.Scalar) for item in node.items):
        return shlex.join(item.text or "" for item in node.items if isinstance(item, yamlish.Scalar))
    return None


def _service_env(service: yamlish.Mapping, rel: str, overlay: Optional[str]) -> ProcessEnv:
    """A service's environment: `environment:` alone, unless something else may add to it."""
    inherits: Optional[str] = f"what {overlay} adds" if overlay else None
    env_file = service.get("env_file")
    if inherits is not None:
        pass
    elif env_file is not None:
        inherits = f"env_file {_describe(env_file)}"
    elif service.get("extends") is not None:
        inherits = f"the service it extends ({rel})"
    elif service.get("image") is None and service.get("build") is None:
        inherits = f"another compose file that completes the service ({rel})"
    variables: List[EnvVar] = []
    environment = service.get("environment")
    if isinstance(environment, yamlish.Mapping):
        for key, line, value in environment.items:
            text = value.text if isinstance(value, yamlish.Scalar) else None
            variables.append(EnvVar(key, text, Origin(rel, line, 1)))
    elif isinstance(environment, yamlish.Sequence):
        for item in environment.items:
            if isinstance(item, yamlish.Scalar) and item.text:
                key, equals, written = item.text.partition("=")
                variables.append(EnvVar(key.strip(), written if equals else None, Origin(rel, item.line, 1)))
    elif environment is not None:
        inherits = inherits or f"an environment this reader does not follow ({rel})"
    build = service.get("build")
    context = build if isinstance(build, yamlish.Scalar) else build.get("context") if isinstance(build, yamlish.Mapping) else None
    # Services built from other folders run other code: they are other deployments.
    deployment = f"{rel} (built from {context.text})" if isinstance(context, yamlish.Scalar) and context.text not in (None, ".", "./") else rel
    return ProcessEnv(deployment, tuple(variables), inherits)


def _describe(node: yamlish.Node) -> str:
    if isinstance(node, yamlish.Scalar):
        return node.text or ""
    if isinstance(node, yamlish.Sequence):
        return ", ".join(_describe(item) for item in node.items)
    path = node.get("path")
    return _describe(path) if path is not None else "?"


# --- line-based files ---------------------------------------------------------------------------


def procfile_processes(lines: List[Tuple[int, str]], rel: str) -> FileProcesses:
    """`name: [X=1 ...] command`; every entry inherits the platform's configuration."""
    result = FileProcesses()
    inherited = f"the platform's configuration of {rel}"
    for number, line in lines:
        match = re.match(r"^([\w.-]+)\s*:\s*(.*)$", line)
        if match is None or line.lstrip().startswith("#"):
            continue
        command = match.group(2)
        words = _split(command)
        variables = tuple(EnvVar(name, value, Origin(rel, number, 1)) for name, value in _prefix_assignments(words))
        env = ProcessEnv(rel, variables, _inherits(command, inherited))
        result.commands.append((number, number, env))
        server = web_server(command)
        if server is not None:
            result.webs.append(_web(server, Origin(rel, number, 1), env, command))
    return result


def _inherits(command: str, inherited: str) -> str:
    return f"a file the command reads ({inherited})" if SOURCES_FILE.search(command) else inherited


def script_processes(lines: List[Tuple[int, str]], rel: str, makefile: bool) -> FileProcesses:
    """Shell scripts and Makefiles: `export X=...` before a command, `X=... cmd` on it. Make's
    own `export X = ...` reaches every recipe; a recipe line's `export` only that line."""
    result = FileProcesses()
    inherited = f"the environment {rel} runs in"
    exported: List[EnvVar] = []
    for number, line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        recipe = makefile and line.startswith("\t")
        make_export = re.match(rf"^export\s+({NAME})\s*[:?+!]?=\s*(.*)$", stripped) if makefile and not recipe else None
        if make_export:
            exported.append(EnvVar(make_export.group(1), make_export.group(2).strip(), Origin(rel, number, 1)))
            continue
        if makefile and not recipe:
            continue
        on_line: List[EnvVar] = []
        for part in re.split(r"&&|;", stripped):
            words = _split(part)
            if words[:1] == ["export"]:
                assigned = [ASSIGNMENT.match(word) for word in words[1:]]
                found = [EnvVar(m.group(1), m.group(2), Origin(rel, number, 1)) for m in assigned if m]
                (on_line if makefile else exported).extend(found)
            else:
                on_line.extend(EnvVar(name, value, Origin(rel, number, 1)) for name, value in _prefix_assignments(words))
        if not makefile and SOURCES_FILE.search(stripped) and not web_server(stripped):
            exported.clear()  # a sourced file may set anything: what was exported before may be overridden
            inherited = f"a file {rel} reads"
        env = ProcessEnv(rel, tuple(exported + on_line), _inherits(stripped, inherited))
        result.commands.append((number, number, env))
        server = web_server(stripped)
        if server is not None:
            result.webs.append(_web(server, Origin(rel, number, 1), env, stripped))
    return result


def systemd_processes(lines: List[Tuple[int, str]], rel: str) -> FileProcesses:
    """A unit's `Environment=` lines; `EnvironmentFile=` adds what is not known. Units of one
    folder are deployed together."""
    result = FileProcesses()
    variables: List[EnvVar] = []
    inherits: Optional[str] = None
    starts: List[Tuple[int, str]] = []
    for number, line in lines:
        key, equals, value = line.strip().partition("=")
        if not equals:
            continue
        key = key.strip()
        if key == "Environment":
            for word in _split(value):
                match = ASSIGNMENT.match(word)
                if match:
                    variables.append(EnvVar(match.group(1), match.group(2), Origin(rel, number, 1)))
        elif key == "EnvironmentFile":
            inherits = f"EnvironmentFile {value.strip().lstrip('-')}"
        elif key in ("ExecStart", "ExecStartPre") or key == "PassEnvironment":
            if key == "PassEnvironment":
                inherits = inherits or f"the service manager's environment ({rel})"
            else:
                starts.append((number, value))
    folder = f"the systemd units in {PurePosixPath(rel).parent}"
    for number, command in starts:
        reads_file = SOURCES_FILE.search(command) is not None
        env = ProcessEnv(folder, tuple(variables), _inherits(command, inherits or rel) if inherits or reads_file else None)
        result.commands.append((number, number, env))
        server = web_server(command.lstrip("-@+!:"))
        if server is not None:
            result.webs.append(_web(server, Origin(rel, number, 1), env, command))
    return result


def supervisor_processes(lines: List[Tuple[int, str]], rel: str) -> FileProcesses:
    """`[program:x]` sections: `command=` with `environment=KEY="v",...`, over supervisord's own."""
    result = FileProcesses()
    folder = PurePosixPath(rel).parent  # one program a file, the files of a folder included together
    inherited = f"supervisord's environment ({folder})"
    sections: List[Tuple[str, List[Tuple[int, str, str]]]] = []
    for number, line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            sections.append((stripped[1:-1], []))
            continue
        key, equals, value = stripped.partition("=")
        if equals and sections and not stripped.startswith((";", "#")):
            sections[-1][1].append((number, key.strip(), value.strip()))
    base: List[EnvVar] = []
    for name, entries in sections:
        if name == "supervisord":
            base = [var for number, key, value in entries if key == "environment" for var in _supervisor_env(value, rel, number)]
    for name, entries in sections:
        if not name.startswith("program:"):
            continue
        own = [var for number, key, value in entries if key == "environment" for var in _supervisor_env(value, rel, number)]
        for number, key, command in entries:
            if key != "command":
                continue
            env = ProcessEnv(f"the supervisor programs in {folder}", tuple(base + own), _inherits(command, inherited))
            result.commands.append((number, number, env))
            server = web_server(command)
            if server is not None:
                result.webs.append(_web(server, Origin(rel, number, 1), env, command))
    return result


def _supervisor_env(value: str, rel: str, number: int) -> List[EnvVar]:
    found = []
    for match in re.finditer(rf"({NAME})=(\"[^\"]*\"|'[^']*'|[^,]*)", value):
        raw = match.group(2).strip()
        if raw[:1] in "\"'" and raw[-1:] == raw[:1] and len(raw) >= 2:
            raw = raw[1:-1]
        found.append(EnvVar(match.group(1), raw, Origin(rel, number, 1)))
    return found


def dockerfile_processes(lines: List[Tuple[int, str]], rel: str) -> FileProcesses:
    """`ENV` lines before `CMD`/`ENTRYPOINT`, in one stage (a `FROM` starts the next)."""
    result = FileProcesses()
    variables: List[EnvVar] = []
    image = ""
    for number, line in lines:
        instruction, _, rest = line.strip().partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction == "FROM":
            variables, image = [], rest.split()[0] if rest else ""
        elif instruction == "ENV":
            words = _split(rest)
            if words and all(ASSIGNMENT.match(word) for word in words):
                pairs = [(m.group(1), m.group(2)) for m in (ASSIGNMENT.match(word) for word in words) if m]
            elif words and re.fullmatch(NAME, words[0]):
                pairs = [(words[0], rest[len(words[0]):].strip())]  # the old `ENV KEY value` form
            else:
                pairs = []
            for name, value in pairs:
                variables.append(EnvVar(name, value, Origin(rel, number, 1)))
                result.ambient.append(name)
        elif instruction in ("CMD", "ENTRYPOINT"):
            env = ProcessEnv(f"the Dockerfiles in {PurePosixPath(rel).parent}", tuple(variables), f"the image {image or '?'}")
            result.commands.append((number, number, env))
            command = _exec_form(rest)
            server = web_server(command)
            if server is not None:
                result.webs.append(_web(server, Origin(rel, number, 1), env, command))
    return result


def _exec_form(rest: str) -> str:
    """`CMD ["a", "b"]` as a shell line."""
    if rest.startswith("["):
        words = re.findall(r'"((?:[^"\\]|\\.)*)"', rest)
        return shlex.join(words)
    return rest


def env_file_names(lines: List[Tuple[int, str]]) -> List[str]:
    """The variables a dotenv file (.env, .envs/.production/.django, settings.ini) sets."""
    names = []
    for _, line in lines:
        match = re.match(rf"^\s*(?:export\s+)?({NAME})\s*[=:]", line)
        if match:
            names.append(match.group(1))
    return names


def starts_processes(name: str) -> bool:
    """Whether the file is of a kind processes_of reads (the others cost nothing)."""
    lower = name.lower()
    return lower.endswith((".yml", ".yaml", ".service", ".mk", ".sh", ".dockerfile", ".conf", ".ini", ".env")) or lower.startswith(
        ("procfile", "makefile", "justfile", "dockerfile", ".env")
    ) or lower == "settings.ini"


def processes_of(
    name: str, rel: str, text: str, lines: List[Tuple[int, str]], overlay: Optional[str] = None
) -> Optional[FileProcesses]:
    """The processes a deployment file starts, by the kind of file; None for other files."""
    lower = name.lower()
    if lower.endswith((".yml", ".yaml")):
        # `in` first: the expression cannot skip ahead to a line start, and test cassettes are large.
        return compose_processes(text, rel, overlay) if "services" in text and re.search(r"(?m)^services\s*:", text) else None
    if lower.startswith("procfile"):
        return procfile_processes(lines, rel)
    if lower.endswith(".service"):
        return systemd_processes(lines, rel)
    if lower.startswith(("makefile", "justfile")) or lower.endswith(".mk"):
        return script_processes(lines, rel, makefile=True)
    if lower.endswith(".sh"):
        return script_processes(lines, rel, makefile=False)
    if lower.startswith("dockerfile") or lower.endswith(".dockerfile"):
        return dockerfile_processes(lines, rel)
    if lower.endswith((".conf", ".ini")) and "[program:" in text:
        return supervisor_processes(lines, rel)
    if lower.startswith(".env") or lower.endswith(".env") or lower == "settings.ini":
        return FileProcesses(ambient=env_file_names(lines))
    return None

