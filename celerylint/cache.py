"""Facts cache keyed by file content and celerylint version, outside the analysed tree.

One pickle per project root under the user's cache folder; a missing, stale, corrupt or
hostile cache is simply rebuilt. Nothing is written inside the project, so read-only trees work.

Loading never runs code: the unpickler resolves only the fact classes of
``celerylint.facts.types`` (nothing from builtins, copyreg, os, ...), undoes any attempt of
the pickle to modify those classes, and anything it returns that is not the expected
``{"format": ..., "entries": {str: ModuleFacts}}`` is treated as no cache at all.
The folder is bounded: after each save, files unused for ``MAX_AGE_SECONDS`` go, then the
oldest ones until the total is under ``MAX_TOTAL_BYTES``.
"""

from __future__ import annotations

import gc
import io
import os
import pickle
import stat
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from celerylint import __version__
from celerylint.facts import types as fact_types
from celerylint.facts.types import ModuleFacts

try:  # hashlib loads OpenSSL first (6 ms of every run) for a hash CPython has built in
    from _blake2 import blake2b as blake2b
except ImportError:  # pragma: no cover - an interpreter without the built-in module
    from hashlib import blake2b as blake2b

FORMAT = 1


@lru_cache(maxsize=None)
def facts_format() -> Tuple[int, str, str]:
    """What a facts file must have been written by: the format, the version, and the source of
    the extraction itself (facts/), so a changed extractor never reads facts of the old one."""
    digest = blake2b(digest_size=16)
    folder = Path(fact_types.__file__).parent
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return FORMAT, __version__, digest.hexdigest()[:16]

# A cache file larger than this is neither loaded nor written.
MAX_FILE_BYTES = 256 * 1024 * 1024
# After a save, the folder's facts files are trimmed (oldest first) to this total...
MAX_TOTAL_BYTES = 512 * 1024 * 1024
# ...after removing those not written (or refreshed) for this long.
MAX_AGE_SECONDS = 30 * 24 * 60 * 60
# A loaded cache that needs no rewrite gets its mtime refreshed at most this often,
# so a project that is linted but never edited does not age out.
REFRESH_SECONDS = 24 * 60 * 60
# A file modified this recently may be written again within the same mtime: never trusted by stat.
RACY_NANOSECONDS = 3_000_000_000
# Temporary files left by an interrupted save are removed once this old.
STALE_TEMP_SECONDS = 24 * 60 * 60

FILE_PREFIX = "facts-"
FILE_SUFFIX = ".pickle"
# The delta of files changed since the base was written (see FactsCache).
DELTA_SUFFIX = ".delta.pickle"
DELTA_MIN_ENTRIES = 64
DELTA_FRACTION = 8
# Whole-run answers (results_cache), bounded with the facts files.
RESULTS_PREFIX = "results-"
FILE_SUFFIX_RESULTS = ".json"
TEMP_PREFIX = ".facts-"
TEMP_SUFFIX = ".tmp"

_O_NONBLOCK: int = getattr(os, "O_NONBLOCK", 0)
_O_BINARY: int = getattr(os, "O_BINARY", 0)
_O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
_O_NOCTTY: int = getattr(os, "O_NOCTTY", 0)


def cache_dir(explicit: Optional[Path] = None) -> Optional[Path]:
    """Where caches live, or None for "no cache". Never raises.

    ``explicit`` (``--cache-dir``) wins, then ``CELERYLINT_CACHE_DIR``, then
    ``$XDG_CACHE_HOME/celerylint`` when XDG_CACHE_HOME is absolute (the XDG spec says a
    relative value is ignored), then ``~/.cache/celerylint`` when the home folder is known.
    """
    if explicit is not None:
        return Path(explicit)
    configured = os.environ.get("CELERYLINT_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "celerylint"
    try:
        home = Path.home()
    except (RuntimeError, KeyError, OSError):  # HOME unset and the uid has no passwd entry
        return None
    if not home.is_absolute():  # HOME="" would otherwise mean the current folder
        return None
    return home / ".cache" / "celerylint"


@lru_cache(maxsize=1)
def extractor_fingerprint() -> bytes:
    """Facts depend on the extractor's code, not only the version: any edit invalidates them."""
    digest = blake2b(__version__.encode(), digest_size=16)
    for path in sorted((Path(__file__).parent / "facts").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.digest()


def content_key(data: bytes) -> str:
    digest = blake2b(data, digest_size=20)
    digest.update(extractor_fingerprint())
    return digest.hexdigest()


# --- Safe loading --------------------------------------------------------------------------


def _fact_classes() -> Dict[Tuple[str, str], type]:
    """The named tuples defined in celerylint.facts.types, by (module, name) exactly as pickled."""
    allowed: Dict[Tuple[str, str], type] = {}
    for name, obj in vars(fact_types).items():
        if (
            isinstance(obj, type)
            and issubclass(obj, tuple)
            and hasattr(obj, "_fields")
            and obj.__module__ == fact_types.__name__
            and obj.__qualname__ == name
        ):
            allowed[(obj.__module__, name)] = obj
    return allowed


ALLOWED_CLASSES: Dict[Tuple[str, str], type] = _fact_classes()


class _FactsUnpickler(pickle.Unpickler):
    """Resolves only the fact classes; every other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        cls = ALLOWED_CLASSES.get((module, name))
        if cls is None:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a facts cache")
        return cls

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed in a facts cache")


# A pickle can BUILD onto a class it was allowed to name (``setattr(Ref, "root", ...)``):
# no code runs, but the classes of this process would change. Snapshot and restore them.
_ClassState = Tuple[Dict[str, Any], Tuple[type, ...], str, str]


def _class_states() -> Dict[type, _ClassState]:
    return {
        cls: (dict(cls.__dict__), cls.__bases__, cls.__name__, cls.__qualname__)
        for cls in ALLOWED_CLASSES.values()
    }


def _restore_classes(before: Dict[type, _ClassState]) -> bool:
    """Put back any class the load modified; True if none was."""
    intact = True
    for cls, (attrs, bases, name, qualname) in before.items():
        now = cls.__dict__
        if (
            cls.__bases__ == bases
            and cls.__name__ == name
            and cls.__qualname__ == qualname
            and now.keys() == attrs.keys()
            and all(now[key] is value for key, value in attrs.items())
        ):
            continue
        intact = False
        if cls.__bases__ != bases:
            cls.__bases__ = bases
        cls.__name__, cls.__qualname__ = name, qualname
        for key in [key for key in now if key not in attrs]:
            delattr(cls, key)
        for key, value in attrs.items():
            if key not in ("__dict__", "__weakref__") and now.get(key) is not value:
                setattr(cls, key, value)
    return intact


def stat_or_none(path: Path) -> Optional[os.stat_result]:
    """The file's stat, or None when it cannot be had (gone, unreadable folder)."""
    try:
        return os.stat(path)
    except OSError:
        return None


def read_regular_file(path: Path) -> Optional[Tuple[bytes, float]]:
    """The bytes and mtime of a regular file no larger than MAX_FILE_BYTES, else None."""
    try:
        # Refuse a directory, FIFO, socket or device before opening it (a FIFO would block)...
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode) or before.st_size > MAX_FILE_BYTES:
            return None
        # ...and again on what was opened, in case it was swapped in between (O_NONBLOCK:
        # opening a FIFO then returns at once instead of waiting for a writer).
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_BINARY | _O_CLOEXEC | _O_NOCTTY)
    except (OSError, ValueError):
        return None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or opened.st_size > MAX_FILE_BYTES:
            return None
        chunks: List[bytes] = []
        total = 0
        while True:  # normally one read of the whole file; bounded even if it grows meanwhile
            chunk = os.read(fd, max(opened.st_size + 1 - total, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                return None
        return b"".join(chunks), opened.st_mtime
    except OSError:
        return None
    finally:
        os.close(fd)


def _valid_entries(stored: object) -> Optional[Dict[str, ModuleFacts]]:
    if type(stored) is not dict:
        return None
    marker = stored.get("format")
    if type(marker) is not tuple or marker != facts_format():
        return None
    entries = stored.get("entries")
    if type(entries) is not dict:
        return None
    for key, facts in entries.items():
        if type(key) is not str or type(facts) is not ModuleFacts:
            return None
    return entries


def _tag(stored: object, name: str) -> str:
    """The base file's token ("token"), or the token of the base a delta file extends ("base")."""
    value = stored.get(name) if type(stored) is dict else None
    return value if type(value) is str else ""


StatKeys = Dict[str, Tuple[int, int, str]]  # path -> (size, mtime_ns, content key)


def _valid_stats(stored: object) -> StatKeys:
    """The file stats a cache file recorded, or none when they are not exactly that shape."""
    stats = stored.get("stats") if type(stored) is dict else None
    if type(stats) is not dict:
        return {}
    for path, value in stats.items():
        if type(path) is not str or type(value) is not tuple or len(value) != 3:
            return {}
        if type(value[0]) is not int or type(value[1]) is not int or type(value[2]) is not str:
            return {}
    return stats


def _valid_dropped(stored: object) -> Tuple[str, ...]:
    """The paths a delta drops from its base's stats, or none when not exactly that shape."""
    dropped = stored.get("dropped") if type(stored) is dict else None
    if type(dropped) is not tuple or not all(type(path) is str for path in dropped):
        return ()
    return dropped


def load_entries(path: Path, tag: str = "token") -> Optional[Tuple[Dict[str, ModuleFacts], float, str, StatKeys, Tuple[str, ...]]]:
    """The entries of the cache file at ``path``, its mtime, its ``tag`` (see ``_tag``), the
    file stats it recorded and (a delta) the files whose stats it drops, or None. Never raises,
    never runs code."""
    read = read_regular_file(path)
    if read is None:
        return None
    data, mtime = read
    before = _class_states()
    # Unpickling builds millions of small objects; the cyclic GC would rescan them all.
    # (No gc.freeze(): a long-lived process such as the flake8 plugin loads many times.)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            stored: object = _FactsUnpickler(io.BytesIO(data)).load()
        except Exception:  # noqa: BLE001 - truncated, garbage or hostile: a cold start
            return None
        finally:
            intact = _restore_classes(before)
        entries = _valid_entries(stored) if intact else None
        token = _tag(stored, tag) if entries is not None else ""
        stats = _valid_stats(stored) if entries is not None else {}
        dropped = _valid_dropped(stored) if entries is not None else ()
    except Exception:  # noqa: BLE001 - e.g. a hostile dict whose comparison fails
        return None
    finally:
        if gc_was_enabled:
            gc.enable()
    return None if entries is None else (entries, mtime, token, stats, dropped)


# --- Bounding the folder ---------------------------------------------------------------------


def prune(directory: Path, keep: Optional[Path] = None, now: Optional[float] = None) -> None:
    """Delete facts files unused for MAX_AGE_SECONDS, then the oldest until the total fits.

    ``keep`` (the file just written) goes last. Never raises.
    """
    now = time.time() if now is None else now
    files: List[Tuple[bool, float, str, int]] = []
    try:
        with os.scandir(directory) as listing:
            for entry in listing:
                name = entry.name
                is_facts = (name.startswith(FILE_PREFIX) and name.endswith(FILE_SUFFIX)) or (
                    name.startswith(RESULTS_PREFIX) and name.endswith(FILE_SUFFIX_RESULTS)
                )
                is_temp = name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)
                if not (is_facts or is_temp):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue
                if is_temp:
                    if now - info.st_mtime > STALE_TEMP_SECONDS:  # left by an interrupted save
                        _unlink(entry.path)
                    continue
                if now - info.st_mtime > MAX_AGE_SECONDS:
                    _unlink(entry.path)
                    continue
                kept = keep is not None and name == keep.name
                files.append((kept, info.st_mtime, entry.path, info.st_size))
    except OSError:
        return
    total = sum(size for _, _, _, size in files)
    for _, _, path, size in sorted(files):
        if total <= MAX_TOTAL_BYTES:
            break
        _unlink(path)
        total -= size


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass  # already gone (a concurrent run pruned it) or not ours to delete


# --- The cache -----------------------------------------------------------------------------


class FactsCache:
    """Facts by content key for one project root.

    Two files: the base, rewritten when much has changed, and a small delta holding the facts
    of files changed since (tied to the base by a token, so a delta written against an older
    base is ignored): a run after editing one file writes a few kilobytes, not the whole cache.
    Each file also keeps the size, mtime and content key of every file read (``stat_keys``), so
    the next run reads only the files changed since.

    Disabled (``get`` misses, ``save`` does nothing, ``path`` is None) when ``enabled`` is
    False or no cache folder can be determined (see ``cache_dir``).
    """

    def __init__(self, root: Path, enabled: bool = True, directory: Optional[Path] = None) -> None:
        folder = cache_dir(directory) if enabled else None
        self.enabled = folder is not None
        self.path: Optional[Path] = None
        self.delta_path: Optional[Path] = None
        self._loaded_mtime: Optional[float] = None
        self._token = ""
        self._base_keys: Set[str] = set()
        self._delta_keys: Set[str] = set()
        self.entries: Dict[str, ModuleFacts] = {}
        self.used: Dict[str, ModuleFacts] = {}
        # path -> (size, mtime_ns, content key) of the files read before, kept with the facts
        # (and in memory by a long-lived process such as the editor server): an unchanged file
        # is then not read and hashed again. A run with no cache does not pay for the stat calls.
        self.remembers_stats = folder is not None
        self.stat_keys: StatKeys = {}  # by str(path): no Path object made per file on load
        self._saved_stats: StatKeys = {}  # as the files on disk say (the base, then the delta)
        self._base_stats: StatKeys = {}
        if folder is None:
            return
        # A fixed-size hex digest: the name cannot point outside the folder.
        try:
            resolved = str(root.resolve())
        except (OSError, RuntimeError):
            resolved = os.path.abspath(root)
        name = blake2b(os.fsencode(resolved), digest_size=10).hexdigest()
        self.path = folder / f"{FILE_PREFIX}{name}{FILE_SUFFIX}"
        self.delta_path = folder / f"{FILE_PREFIX}{name}{DELTA_SUFFIX}"
        loaded = load_entries(self.path)
        if loaded is None:
            return
        self.entries, self._loaded_mtime, self._token, stats, _ = loaded
        self._base_keys = set(self.entries)
        self._base_stats = stats
        delta = load_entries(self.delta_path, tag="base") if self._token else None
        if delta is not None and delta[2] == self._token:
            self.entries.update(delta[0])
            self._delta_keys = set(delta[0])
            # A delta records how the run's stats differ from the base's.
            stats = {**stats, **delta[3]}
            for path in delta[4]:
                stats.pop(path, None)
        self._saved_stats = stats
        self.stat_keys = {path: value for path, value in stats.items() if value[2] in self.entries}

    def key_by_stat(self, path: str, size: int, mtime_ns: int) -> Optional[str]:
        """The content key of the file as it was read before, if its size and mtime are the same."""
        known = self.stat_keys.get(path)
        return known[2] if known is not None and known[:2] == (size, mtime_ns) else None

    def remember_stat(self, path: Path, size: int, mtime_ns: int, key: str) -> None:
        """Remember a file's key by its stats, unless it changed too recently for its mtime to
        tell a later write apart (the same window as the results cache's racy files)."""
        if time.time_ns() - mtime_ns > RACY_NANOSECONDS:
            self.stat_keys[str(path)] = (size, mtime_ns, key)

    def get(self, key: str) -> Optional[ModuleFacts]:
        facts = self.entries.get(key)
        if facts is not None:
            self.used[key] = facts
        return facts

    def put(self, key: str, facts: ModuleFacts) -> None:
        self.used[key] = facts

    def save(self) -> None:
        """Keep what this run used; write atomically; prune the folder; never fail the run."""
        if not self.enabled or self.path is None or self.delta_path is None:
            return
        stats = {path: value for path, value in self.stat_keys.items() if value[2] in self.used}
        same_stats = stats == self._saved_stats
        if self.used.keys() == self.entries.keys() and same_stats:
            self._refresh()
            return
        added = {key: facts for key, facts in self.used.items() if key not in self._base_keys}
        unused = len(self._base_keys) - (len(self.used) - len(added))
        allowance = max(DELTA_MIN_ENTRIES, len(self._base_keys) // DELTA_FRACTION)
        if self._token and len(added) <= allowance and unused <= allowance:
            if added.keys() == self._delta_keys and same_stats:  # the delta on disk already says this
                return
            # Small change: the base stays (its unused entries too, until the next rewrite).
            # Only the stats that differ from the base's: a run after editing one file writes
            # a few kilobytes, not a line per file of the project.
            changed = {path: value for path, value in stats.items() if self._base_stats.get(path) != value}
            dropped = tuple(path for path in self._base_stats if path not in stats)
            document = {"format": facts_format(), "base": self._token, "entries": added, "stats": changed, "dropped": dropped}
            if _write_atomically(self.delta_path, document):
                prune(self.path.parent, keep=self.delta_path)
            return
        token = os.urandom(8).hex()
        if _write_atomically(self.path, {"format": facts_format(), "token": token, "entries": self.used, "stats": stats}):
            _unlink(str(self.delta_path))
            prune(self.path.parent, keep=self.path)

    def _refresh(self) -> None:
        """Mark a still-current cache as used so pruning by age spares it."""
        if self.path is None or self._loaded_mtime is None:
            return
        now = time.time()
        if now - self._loaded_mtime < REFRESH_SECONDS:
            return
        try:
            os.utime(self.path, (now, now))
            self._loaded_mtime = now
        except OSError:
            pass


def _write_atomically(path: Path, document: Dict[str, Any]) -> bool:
    """Pickle ``document`` to ``path`` through a temporary file; False when it was not written."""
    temporary: Optional[str] = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
        with os.fdopen(handle, "wb") as output:
            pickle.dump(document, output, protocol=pickle.HIGHEST_PROTOCOL)
            size = output.tell()
        if size > MAX_FILE_BYTES:  # would never be loaded: not worth the disk
            return False
        os.replace(temporary, path)
        temporary = None
        return True
    except Exception:  # noqa: BLE001 - a cache that cannot be written is only a slower next run
        return False
    finally:
        if temporary is not None:
            _unlink(temporary)
