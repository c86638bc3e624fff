"""Celery's own tables, imported from the installed packages only, never from the analysed tree.

`python -m celerylint` and `python -m flake8` put the current folder first on sys.path, and CI
setups often put the project on PYTHONPATH: a project's own `celery.py` (or a stray
`celery-*.dist-info`) there would be imported, or believed, instead of Celery. Imports and
version look-ups here search sys.path without those entries.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from types import ModuleType
from typing import List, Optional

VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]{0,63}")


def installed_search_path() -> List[str]:
    """sys.path minus the current folder and PYTHONPATH entries: where installed packages live."""
    here = os.path.realpath(os.getcwd())
    chosen = {os.path.realpath(entry) for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry}
    kept = []
    for entry in sys.path:
        if entry in ("", "."):
            continue
        real = os.path.realpath(entry)
        if real == here or real in chosen:
            continue
        kept.append(entry)
    return kept


def import_installed(name: str) -> ModuleType:
    """Import a module of an installed package (and what it imports) from installed packages."""
    saved = sys.path[:]
    sys.path[:] = installed_search_path()
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = saved


def installed_version(distribution: str) -> str:
    """The installed distribution's version, safe to put in a file name; "unknown" otherwise."""
    search = installed_search_path()
    # Every run asks (the results cache's key): the `name-version.dist-info` folder a wheel
    # install leaves says it without importing importlib.metadata (7 ms) and reading METADATA.
    version = _dist_info_version(distribution, search)
    if version is None:
        from importlib import metadata

        for found in metadata.distributions(name=distribution, path=search):
            version = str(found.version or "")
            break
    return version if version and VERSION.fullmatch(version) else "unknown"


def _dist_info_version(distribution: str, search: List[str]) -> Optional[str]:
    """The version in the first `<name>-<version>.dist-info` folder on the search path, the
    name normalized as wheels write it (`flask_sqlalchemy`), or None."""
    prefix = re.sub(r"[-_.]+", "_", distribution).lower() + "-"
    for entry in search:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file, or gone
            continue
        for name in names:
            lower = name.lower()
            if lower.startswith(prefix) and lower.endswith(".dist-info"):
                version = name[len(prefix) : -len(".dist-info")]
                if version[:1].isdigit():
                    return version
    return None
