"""[tool.celerylint] (or a --config file) plus command-line flags -> one frozen Settings.

Every mistake in configuration is a ConfigError: one line naming the file, the key and
what was expected, exit status 2.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

# ruff's names where they fit: concise is text, full is text with the source line.
FORMATS = ("text", "concise", "full", "grouped", "json", "json-lines", "sarif", "github", "gitlab", "junit", "pylint")
LIST_KEYS = ("select", "ignore", "extend-select", "exclude", "extend-exclude", "worker-apps")
KNOWN_KEYS = LIST_KEYS + ("per-file-ignores", "respect-gitignore", "format")
CODE_KEYS = ("select", "ignore", "extend-select")


class ConfigError(Exception):
    """A user error in configuration or flags: reported as one line, exit status 2."""


@dataclass(frozen=True)
class Settings:
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    extend_select: Tuple[str, ...] = ()
    per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    exclude: Optional[Tuple[str, ...]] = None  # None: the default excludes
    extend_exclude: Tuple[str, ...] = ()
    worker_apps: Tuple[str, ...] = ()
    respect_gitignore: bool = True
    output_format: str = "text"
    use_cache: bool = True
    disable_noqa: bool = False
    force_exclude: bool = False
    cache_dir: Optional[Path] = None


@dataclass(frozen=True)
class Overrides:
    """What the command line says; None means "not given": the file decides."""

    select: Optional[str] = None
    ignore: Optional[str] = None
    extend_select: Optional[str] = None
    per_file_ignores: Optional[str] = None
    exclude: Optional[str] = None
    extend_exclude: Optional[str] = None
    respect_gitignore: Optional[bool] = None
    output_format: Optional[str] = None
    use_cache: bool = True
    disable_noqa: bool = False
    force_exclude: bool = False
    cache_dir: Optional[Path] = None


def load_table(path: Path, pyproject: bool) -> Dict[str, Any]:
    """The celerylint table of a TOML file: [tool.celerylint] in pyproject.toml, else top level."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {_toml_position(error, text)}") from None
    tool = data.get("tool", {})
    if pyproject or (isinstance(tool, dict) and "celerylint" in tool):
        section = tool.get("celerylint", {}) if isinstance(tool, dict) else {}
        prefix = "[tool.celerylint] "
    else:
        section, prefix = data, ""
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.celerylint] must be a table")
    _validate(path, prefix, section)
    return section


def _toml_position(error: Exception, text: str) -> str:
    message = str(error)
    line, col = getattr(error, "lineno", None), getattr(error, "colno", None)
    if line is None:
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if match:
            line, col = int(match.group(1)), int(match.group(2))
        elif "end of document" in message:
            lines = text.split("\n")
            line, col = len(lines), len(lines[-1]) + 1
    message = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", message)
    return f"line {line}, column {col}: {message}" if line is not None else message


def _validate(path: Path, prefix: str, section: Dict[str, Any]) -> None:
    for key, value in section.items():
        where = f"{path}: {prefix}{key}"
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path}: {prefix}unknown key {key!r}{hint}")
        if key in LIST_KEYS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{where}: expected a list of strings, got {_kind(value)}")
        if key == "respect-gitignore" and not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_kind(value)}")
        if key == "format" and value not in FORMATS:
            raise ConfigError(f"{where}: expected one of {', '.join(FORMATS)}, got {value!r}")
        if key == "per-file-ignores":
            _validate_per_file(where, value)
        if key in CODE_KEYS:
            for code in value:
                check_code(code, where)


def _validate_per_file(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of glob = [codes], got {_kind(value)}")
    for glob, codes in value.items():
        if not (isinstance(codes, list) and all(isinstance(c, str) for c in codes)):
            raise ConfigError(f"{where}: {glob!r}: expected a list of codes, got {_kind(codes)}")
        for code in codes:
            check_code(code, f"{where}: {glob!r}")


def check_code(code: str, where: str) -> None:
    from celerylint.codes import ALL_CODES

    normalized = code.strip().upper()
    if normalized == "ALL" or any(known.startswith(normalized) for known in ALL_CODES):
        return
    close = difflib.get_close_matches(normalized, ALL_CODES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"{where}: unknown rule code {code!r}{hint}")


def _kind(value: Any) -> str:
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def _codes(text: str, where: str) -> Tuple[str, ...]:
    codes = tuple(code.strip().upper() for code in text.split(",") if code.strip())
    for code in codes:
        check_code(code, where)
    return codes


def _per_file_flag(text: str) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    """--per-file-ignores 'tests/*:CEL006,CEL002 scripts/*:CEL005' (as flake8 writes it)."""
    result = []
    for item in text.split():
        glob, _, codes = item.rpartition(":")
        if not glob:
            raise ConfigError(f"--per-file-ignores: expected GLOB:CODES, got {item!r}")
        result.append((glob, _codes(codes, "--per-file-ignores")))
    return tuple(result)


def _patterns(text: str) -> Tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def config_section(root: Path, config_file: Optional[Path] = None) -> Tuple[Optional[Path], Dict[str, Any]]:
    """The file a project's settings come from (None: no file) and its celerylint table."""
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"{config_file}: no such configuration file")
        return config_file, load_table(config_file, config_file.name == "pyproject.toml")
    if (root / "pyproject.toml").is_file():
        return root / "pyproject.toml", load_table(root / "pyproject.toml", True)
    return None, {}


def settings_from(root: Path, overrides: Overrides, config_file: Optional[Path] = None) -> Settings:
    _, section = config_section(root, config_file)
    per_file = tuple((glob, tuple(c.upper() for c in codes)) for glob, codes in section.get("per-file-ignores", {}).items())
    exclude = section.get("exclude")
    return Settings(
        select=_codes(overrides.select, "--select") if overrides.select is not None else _upper(section.get("select", ())),
        # As ruff layers it: --ignore adds to the file's ignore, --select replaces its select.
        ignore=_upper(section.get("ignore", ())) + (_codes(overrides.ignore, "--ignore") if overrides.ignore else ()),
        extend_select=_upper(section.get("extend-select", ()))
        + (_codes(overrides.extend_select, "--extend-select") if overrides.extend_select else ()),
        per_file_ignores=per_file + (_per_file_flag(overrides.per_file_ignores) if overrides.per_file_ignores else ()),
        exclude=_patterns(overrides.exclude) if overrides.exclude is not None else (tuple(exclude) if exclude is not None else None),
        extend_exclude=tuple(section.get("extend-exclude", ()))
        + (_patterns(overrides.extend_exclude) if overrides.extend_exclude else ()),
        worker_apps=tuple(section.get("worker-apps", ())),
        respect_gitignore=overrides.respect_gitignore
        if overrides.respect_gitignore is not None
        else section.get("respect-gitignore", True),
        output_format=overrides.output_format or section.get("format", "text"),
        use_cache=overrides.use_cache,
        disable_noqa=overrides.disable_noqa,
        force_exclude=overrides.force_exclude,
        cache_dir=overrides.cache_dir,
    )


# Settings field -> (its key in the file or None, its flag or None, whether the flag adds to the file).
SOURCES: Dict[str, Tuple[Optional[str], Optional[str], bool]] = {
    "select": ("select", "--select", False),
    "ignore": ("ignore", "--ignore", True),
    "extend_select": ("extend-select", "--extend-select", True),
    "per_file_ignores": ("per-file-ignores", "--per-file-ignores", True),
    "exclude": ("exclude", "--exclude", False),
    "extend_exclude": ("extend-exclude", "--extend-exclude", True),
    "worker_apps": ("worker-apps", None, False),
    "respect_gitignore": ("respect-gitignore", "--[no-]respect-gitignore", False),
    "output_format": ("format", "--output-format", False),
    "use_cache": (None, "--no-cache", False),
    "disable_noqa": (None, "--disable-noqa", False),
    "force_exclude": (None, "--force-exclude", False),
    "cache_dir": (None, "--cache-dir", False),
}


def setting_sources(root: Path, overrides: Overrides, config_file: Optional[Path] = None) -> Dict[str, str]:
    """Where each setting of the project at root came from: a flag, the configuration file, both, or the default."""
    path, section = config_section(root, config_file)
    defaults = Overrides()
    sources = {}
    for field, (key, flag, adds) in SOURCES.items():
        given = flag is not None and getattr(overrides, field) not in (None, "", getattr(defaults, field))
        parts = [str(path)] if key is not None and key in section and (adds or not given) else []
        parts += [flag] if given and flag is not None else []
        sources[field] = " + ".join(parts) or "default"
    return sources


def _upper(codes: Sequence[str]) -> Tuple[str, ...]:
    return tuple(code.strip().upper() for code in codes)
