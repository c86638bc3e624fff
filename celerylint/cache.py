"""Facts cache keyed by file content and celerylint version, outside the analysed tree.

One pickle per project root under the user's cache folder; a missing, stale or corrupt
cache is simply rebuilt. Nothing is written inside the project, so read-only trees work.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from functools import lru_cache
from typing import Dict, Optional

from celerylint import __version__
from celerylint.facts.types import ModuleFacts

FORMAT = 1


def cache_dir() -> Path:
    explicit = os.environ.get("CELERYLINT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "celerylint"


@lru_cache(maxsize=1)
def extractor_fingerprint() -> bytes:
    """Facts depend on the extractor's code, not only the version: any edit invalidates them."""
    digest = hashlib.blake2b(__version__.encode(), digest_size=16)
    for path in sorted((Path(__file__).parent / "facts").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.digest()


def content_key(data: bytes) -> str:
    digest = hashlib.blake2b(data, digest_size=20)
    digest.update(extractor_fingerprint())
    return digest.hexdigest()


class FactsCache:
    def __init__(self, root: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        name = hashlib.blake2b(str(root.resolve()).encode(), digest_size=10).hexdigest()
        self.path = cache_dir() / f"facts-{name}.pickle"
        self.entries: Dict[str, ModuleFacts] = self._load() if enabled else {}
        self.used: Dict[str, ModuleFacts] = {}

    def _load(self) -> Dict[str, ModuleFacts]:
        # Unpickling builds millions of small objects; the cyclic GC would rescan them all.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            with open(self.path, "rb") as handle:
                stored = pickle.load(handle)
        except Exception:  # noqa: BLE001 - any unreadable cache is just a cold start
            return {}
        finally:
            # Loaded facts live until the run ends: keep the GC from ever scanning them.
            gc.freeze()
            if gc_was_enabled:
                gc.enable()
        if not isinstance(stored, dict) or stored.get("format") != (FORMAT, __version__):
            return {}
        entries = stored.get("entries")
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> Optional[ModuleFacts]:
        facts = self.entries.get(key)
        if facts is not None:
            self.used[key] = facts
        return facts

    def put(self, key: str, facts: ModuleFacts) -> None:
        self.used[key] = facts

    def save(self) -> None:
        """Keep what this run used; write atomically; never fail the run."""
        if not self.enabled or self.used.keys() == self.entries.keys():
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".facts-")
            with os.fdopen(handle, "wb") as output:
                pickle.dump({"format": (FORMAT, __version__), "entries": self.used}, output, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.path)
        except OSError:
            pass
