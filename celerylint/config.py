"""[tool.celerylint] in pyproject.toml plus command-line flags -> one frozen Settings."""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

KNOWN_KEYS = {"select": list, "ignore": list, "worker-apps": list, "respect-gitignore": bool, "format": str}


class ConfigError(Exception):
    """A user error in configuration or flags: reported as one line, exit status 2."""


@dataclass(frozen=True)
class Settings:
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    worker_apps: Tuple[str, ...] = ()
    respect_gitignore: bool = True
    output_format: str = "text"
    use_cache: bool = True


def read_pyproject(root: Path) -> Dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    section = data.get("tool", {}).get("celerylint", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.celerylint] must be a table")
    for key, value in section.items():
        expected = KNOWN_KEYS.get(key)
        if expected is None:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path}: [tool.celerylint] unknown key {key!r}{hint}")
        if not isinstance(value, expected) or (expected is list and not all(isinstance(v, str) for v in value)):
            kind = "a list of strings" if expected is list else expected.__name__
            raise ConfigError(f"{path}: [tool.celerylint] {key} must be {kind}")
    return section


def settings_from(
    root: Path, select: Optional[str], ignore: Optional[str], output_format: Optional[str], use_cache: bool = True
) -> Settings:
    section = read_pyproject(root)
    return Settings(
        select=_codes(select) if select is not None else tuple(section.get("select", ())),
        ignore=_codes(ignore) if ignore is not None else tuple(section.get("ignore", ())),
        worker_apps=tuple(section.get("worker-apps", ())),
        respect_gitignore=section.get("respect-gitignore", True),
        output_format=output_format or section.get("format", "text"),
        use_cache=use_cache,
    )


def _codes(text: str) -> Tuple[str, ...]:
    return tuple(code.strip().upper() for code in text.split(",") if code.strip())
