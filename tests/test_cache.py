"""The facts cache: loading never runs code, bad files are a cold start, the folder stays bounded."""

from __future__ import annotations

import copyreg
import gc
import os
import pathlib
import pickle
import re
import shlex
import stat
import struct
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest

from celerylint import __version__, cache
from celerylint.cache import FactsCache, cache_dir, content_key
from celerylint.facts import facts_from_bytes
from celerylint.facts import types as fact_types
from celerylint.facts.types import Const, ModuleFacts, Ref

SOURCE = b"from celery import Celery\napp = Celery('x')\n@app.task\ndef f(a):\n    return a\n"
MARKER_FORMAT = cache.facts_format()
DAY = 24 * 60 * 60


def _facts() -> ModuleFacts:
    return facts_from_bytes(SOURCE)


def _cache_path(root: Path, directory: Optional[Path] = None) -> Path:
    path = FactsCache(root, directory=directory).path
    assert path is not None
    return path


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _dump(obj: object) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _saved(root: Path, directory: Optional[Path] = None) -> Tuple[FactsCache, str, ModuleFacts]:
    facts = _facts()
    key = content_key(SOURCE)
    writer = FactsCache(root, directory=directory)
    writer.put(key, facts)
    writer.save()
    return writer, key, facts


# --- A genuine cache round-trips ---------------------------------------------------------


def test_round_trip_returns_equal_facts(tmp_path: Path) -> None:
    writer, key, facts = _saved(tmp_path)
    assert facts.detailed and facts.functions, "the sample must produce non-trivial facts"
    assert writer.path is not None and writer.path.is_file()
    reader = FactsCache(tmp_path)
    assert reader.path == writer.path
    loaded = reader.get(key)
    assert loaded == facts and type(loaded) is ModuleFacts
    assert reader.used == {key: facts}


def test_every_global_of_a_real_cache_is_allowed_and_nothing_else(tmp_path: Path) -> None:
    """The allowlist is exactly the fact classes (named tuples), and a real cache needs only those."""
    writer, _, _ = _saved(tmp_path)
    assert writer.path is not None
    needed = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            needed.add((module, name))
            return super().find_class(module, name)

    with open(writer.path, "rb") as handle:
        Recorder(handle).load()
    assert needed and needed <= set(cache.ALLOWED_CLASSES)
    assert all(module == "celerylint.facts.types" for module, _ in cache.ALLOWED_CLASSES)
    classes_of_types = {
        name
        for name, obj in vars(fact_types).items()
        if isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")
    }
    assert {name for _, name in cache.ALLOWED_CLASSES} == classes_of_types
    assert {"Loc", "Ref", "ModuleFacts"} <= classes_of_types


def test_cache_file_name_is_a_hash_inside_the_cache_folder(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    path = _cache_path(tmp_path / ".." / ".." / "x", directory=folder)
    assert path.parent == folder
    assert re.fullmatch(r"facts-[0-9a-f]{20}\.pickle", path.name)


# --- Loading never runs code -------------------------------------------------------------


class _SystemTouch:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Tuple[Any, ...]:
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


class _PathTouch:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.parametrize("payload", [_SystemTouch, _PathTouch])
@pytest.mark.parametrize("where", ["entry", "top"])
def test_hostile_pickle_is_ignored_and_runs_nothing(tmp_path: Path, payload: Any, where: str) -> None:
    marker = tmp_path / "MARKER"
    evil = payload(marker)
    stored = evil if where == "top" else {"format": MARKER_FORMAT, "entries": {"k": evil}}
    path = _cache_path(tmp_path / "project")
    _write(path, _dump(stored))
    assert not marker.exists()

    loaded = FactsCache(tmp_path / "project")

    assert not marker.exists(), "loading the cache ran code from it"
    assert loaded.entries == {} and loaded.get("k") is None
    # The hostile file is replaced by a good one on the next save.
    loaded.put("k", _facts())
    loaded.save()
    assert FactsCache(tmp_path / "project").get("k") == _facts()


def test_hostile_pickle_through_the_copyreg_extension_registry_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    code = 0x7FFFFF01
    copyreg.add_extension(os.system.__module__, "system", code)
    try:
        data = pickle.dumps({"format": MARKER_FORMAT, "entries": {"k": _SystemTouch(marker)}}, protocol=2)
        assert struct.pack("<i", code) in data, "the payload must use the EXT4 opcode"
        path = _cache_path(tmp_path / "project")
        _write(path, data)
        loaded = FactsCache(tmp_path / "project")
    finally:
        copyreg.remove_extension(os.system.__module__, "system", code)
    assert not marker.exists()
    assert loaded.entries == {}


@pytest.mark.parametrize(
    "module, name",
    [
        ("builtins", "eval"),
        ("builtins", "getattr"),
        ("builtins", "dict"),
        ("copyreg", "_reconstructor"),
        ("os", "system"),
        ("posix", "system"),
        ("celerylint.facts.types", "field"),
        ("celerylint.facts.types", "dataclass"),
        ("celerylint.facts.types", "NO_LOC"),
        ("celerylint.facts.types", "Ref.root"),
        ("celerylint.facts.types", "Optional"),
        ("celerylint.facts", "facts_from_bytes"),
        ("celerylint.facts.types.os", "ModuleFacts"),
    ],
)
def test_only_fact_dataclasses_resolve(module: str, name: str) -> None:
    unpickler = cache._FactsUnpickler(__import__("io").BytesIO(b""))
    with pytest.raises(pickle.UnpicklingError):
        unpickler.find_class(module, name)
    assert unpickler.find_class("celerylint.facts.types", "ModuleFacts") is ModuleFacts


def _u(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw  # SHORT_BINUNICODE


def _build_on_class(attr: str) -> bytes:
    """A pickle in the right shape that also does ``setattr(Ref, attr, "hacked")`` (BUILD)."""
    return (
        b"\x80\x04}("  # PROTO 4, EMPTY_DICT, MARK
        + _u("format") + b"K" + bytes([cache.FORMAT]) + _u(__version__) + _u(cache.facts_format()[2]) + b"\x87"  # the marker
        + _u("entries") + b"}"
        + _u("x") + _u("celerylint.facts.types") + _u("Ref") + b"\x93"  # STACK_GLOBAL Ref
        + b"N}" + _u(attr) + _u("hacked") + b"s\x86b"  # (None, {attr: "hacked"}) BUILD
        + b"u."  # SETITEMS, STOP
    )


@pytest.mark.parametrize("attr", ["root", "__eq__", "__module__", "__doc__", "brand_new"])
def test_pickle_cannot_modify_the_fact_classes(tmp_path: Path, attr: str) -> None:
    before = dict(vars(Ref))
    path = _cache_path(tmp_path)
    _write(path, _build_on_class(attr))
    loaded = FactsCache(tmp_path)
    assert loaded.entries == {}
    assert dict(vars(Ref)) == before and all(vars(Ref)[key] is value for key, value in before.items())
    ref = Ref("import", "celery.Celery")
    assert ref.root == "celery" and ref == Ref("import", "celery.Celery") and Ref.__module__ == fact_types.__name__


# --- Anything but a well-formed cache is a cold start ----------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        {"format": MARKER_FORMAT, "entries": {"k": "not facts"}},
        {"format": MARKER_FORMAT, "entries": {"k": Ref("import", "x")}},
        {"format": MARKER_FORMAT, "entries": {"k": (ModuleFacts(),)}},
        {"format": MARKER_FORMAT, "entries": {1: ModuleFacts()}},
        {"format": MARKER_FORMAT, "entries": {b"k": ModuleFacts()}},
        {"format": MARKER_FORMAT, "entries": [("k", ModuleFacts())]},
        {"format": MARKER_FORMAT, "entries": None},
        {"format": MARKER_FORMAT},
        {"format": (cache.FORMAT, "0.0.0-other"), "entries": {"k": ModuleFacts()}},
        {"format": [cache.FORMAT, __version__], "entries": {"k": ModuleFacts()}},
        {"entries": {"k": ModuleFacts()}},
        [("format", MARKER_FORMAT), ("entries", {"k": ModuleFacts()})],
        ModuleFacts(),
        None,
    ],
)
def test_valid_pickle_of_the_wrong_shape_is_ignored(tmp_path: Path, stored: object) -> None:
    path = _cache_path(tmp_path)
    _write(path, _dump(stored))
    loaded = FactsCache(tmp_path)
    assert loaded.entries == {} and loaded.get("k") is None


def test_the_right_shape_is_accepted(tmp_path: Path) -> None:
    """Control for the test above: the same construction with good types loads."""
    path = _cache_path(tmp_path)
    _write(path, _dump({"format": MARKER_FORMAT, "entries": {"k": _facts()}}))
    assert FactsCache(tmp_path).get("k") == _facts()


@pytest.mark.parametrize("keep", [0, 1, 2, 0.5, 0.9, -1])
def test_truncated_cache_is_ignored(tmp_path: Path, keep: float) -> None:
    writer, key, _ = _saved(tmp_path)
    assert writer.path is not None
    data = writer.path.read_bytes()
    cut = len(data) - 1 if keep == -1 else int(len(data) * keep) if isinstance(keep, float) else keep
    writer.path.write_bytes(data[:cut])
    loaded = FactsCache(tmp_path)
    assert loaded.entries == {} and loaded.get(key) is None


@pytest.mark.parametrize("data", [b"garbage", b"\x80\x05garbage", os.urandom(4096), b"\x80\x05\x95" + b"\xff" * 8])
def test_garbage_is_ignored(tmp_path: Path, data: bytes) -> None:
    _write(_cache_path(tmp_path), data)
    assert FactsCache(tmp_path).entries == {}


def test_file_larger_than_the_bound_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer, key, _ = _saved(tmp_path)
    assert writer.path is not None
    size = writer.path.stat().st_size
    monkeypatch.setattr(cache, "MAX_FILE_BYTES", size - 1)
    assert FactsCache(tmp_path).get(key) is None
    monkeypatch.setattr(cache, "MAX_FILE_BYTES", size)
    assert FactsCache(tmp_path).get(key) is not None


def test_directory_at_the_cache_path_is_ignored_and_save_survives(tmp_path: Path) -> None:
    path = _cache_path(tmp_path)
    path.mkdir(parents=True)
    loaded = FactsCache(tmp_path)
    assert loaded.entries == {}
    loaded.put("k", _facts())
    loaded.save()  # os.replace onto a directory fails: no exception
    assert path.is_dir()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(cache.TEMP_SUFFIX)]


def _load_with_timeout(root: Path, fifo: Path) -> FactsCache:
    result: Dict[str, FactsCache] = {}
    worker = threading.Thread(target=lambda: result.setdefault("cache", FactsCache(root)), daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # unblock the reader before failing
        worker.join(10)
        pytest.fail("loading the cache blocked on a FIFO")
    return result["cache"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_at_the_cache_path_does_not_block(tmp_path: Path) -> None:
    path = _cache_path(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    assert _load_with_timeout(tmp_path, path).entries == {}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_swapped_in_after_the_check_does_not_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stat said "regular file" but a FIFO was put there before the open."""
    path = _cache_path(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    real_stat = os.stat

    def lying_stat(target: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        result = real_stat(target, *args, **kwargs)
        if os.fspath(target) == str(path):
            fields = list(result)
            fields[0] = stat.S_IFREG | 0o600
            return os.stat_result(fields)
        return result

    monkeypatch.setattr(cache.os, "stat", lying_stat)
    assert _load_with_timeout(tmp_path, path).entries == {}


# --- Where the cache lives ---------------------------------------------------------------


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CELERYLINT_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)


def test_explicit_folder_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERYLINT_CACHE_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir(tmp_path / "flag") == tmp_path / "flag"
    assert cache_dir() == tmp_path / "env"
    _saved(tmp_path / "project", directory=tmp_path / "flag")
    assert [p.name.startswith("facts-") for p in (tmp_path / "flag").iterdir()] == [True]
    assert not (tmp_path / "env").exists()


def test_absolute_xdg_cache_home_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "celerylint"


def test_relative_xdg_cache_home_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert cache_dir() == tmp_path / "home" / ".cache" / "celerylint"
    _saved(tmp_path / "project")
    assert not (tmp_path / "relative").exists()
    assert list((tmp_path / "home" / ".cache" / "celerylint").glob("facts-*.pickle"))


@pytest.mark.parametrize("error", [RuntimeError, KeyError])
def test_no_home_means_no_cache_and_no_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type
) -> None:
    _clear_env(monkeypatch)
    monkeypatch.delenv("HOME", raising=False)

    def no_home(cls: Any = None) -> Path:
        raise error("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", classmethod(no_home))
    monkeypatch.chdir(tmp_path)
    assert cache_dir() is None
    disabled = FactsCache(tmp_path / "project")
    assert not disabled.enabled and disabled.path is None and disabled.entries == {}
    disabled.put("k", _facts())
    assert disabled.get("k") is None
    disabled.save()
    assert list(tmp_path.iterdir()) == []


def test_empty_home_is_not_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("")))
    assert cache_dir() is None


def test_disabled_cache_reads_and_writes_nothing(tmp_path: Path) -> None:
    _saved(tmp_path)
    disabled = FactsCache(tmp_path, enabled=False)
    assert disabled.entries == {} and disabled.get(content_key(SOURCE)) is None


# --- Writes are atomic and never fail the run ---------------------------------------------


def test_failed_write_leaves_the_old_cache_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer, key, facts = _saved(tmp_path)
    assert writer.path is not None

    def broken_dump(*args: Any, **kwargs: Any) -> None:
        args[1].write(b"partial")
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(cache.pickle, "dump", broken_dump)
        second = FactsCache(tmp_path)
        second.put("other", facts)
        second.save()  # no exception
    assert FactsCache(tmp_path).get(key) == facts
    assert sorted(p.name for p in writer.path.parent.iterdir()) == [writer.path.name]


def test_concurrent_saves_leave_a_loadable_cache(tmp_path: Path) -> None:
    facts = _facts()
    writers = [FactsCache(tmp_path) for _ in range(8)]
    for number, writer in enumerate(writers):
        for index in range(200):
            writer.put(f"{number}-{index}", facts)
    threads = [threading.Thread(target=writer.save) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loaded = FactsCache(tmp_path)
    assert len(loaded.entries) == 200
    assert writers[0].path is not None
    assert not [p for p in writers[0].path.parent.iterdir() if p.name.endswith(cache.TEMP_SUFFIX)]


def test_loading_does_not_freeze_the_gc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, key, _ = _saved(tmp_path)
    frozen = []
    monkeypatch.setattr(cache.gc, "freeze", lambda: frozen.append(True))
    assert gc.isenabled()
    assert FactsCache(tmp_path).get(key) is not None
    assert gc.isenabled() and frozen == []


# --- The folder stays bounded ---------------------------------------------------------------


def _file(folder: Path, name: str, size: int, age_days: float, now: float) -> Path:
    path = folder / name
    path.write_bytes(b"x" * size)
    os.utime(path, (now - age_days * DAY, now - age_days * DAY))
    return path


def test_prune_removes_old_files_then_oldest_until_under_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    now = time.time()
    expired = _file(folder, "facts-expired.pickle", 10, 31, now)
    a = _file(folder, "facts-a.pickle", 400, 3, now)
    b = _file(folder, "facts-b.pickle", 400, 2, now)
    c = _file(folder, "facts-c.pickle", 400, 1, now)
    unrelated = _file(folder, "celery-settings-5.3.json", 5000, 90, now)
    stale_temp = _file(folder, ".facts-abc.tmp", 10, 2, now)
    fresh_temp = _file(folder, ".facts-def.tmp", 10, 0, now)
    monkeypatch.setattr(cache, "MAX_TOTAL_BYTES", 1000)

    cache.prune(folder)

    assert not expired.exists() and not stale_temp.exists()
    assert not a.exists(), "the oldest file goes first"
    assert b.exists() and c.exists()
    assert unrelated.exists() and fresh_temp.exists()
    total = sum(p.stat().st_size for p in folder.glob("facts-*.pickle"))
    assert total <= 1000


def test_prune_removes_expired_files_even_under_the_size_bound(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    now = time.time()
    expired = _file(folder, "facts-expired.pickle", 10, 31, now)
    recent = _file(folder, "facts-recent.pickle", 10, 29, now)
    cache.prune(folder)
    assert not expired.exists() and recent.exists()


def test_prune_spares_the_file_just_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    now = time.time()
    kept = _file(folder, "facts-kept.pickle", 400, 3, now)
    other = _file(folder, "facts-other.pickle", 400, 1, now)
    monkeypatch.setattr(cache, "MAX_TOTAL_BYTES", 500)
    cache.prune(folder, keep=kept)
    assert kept.exists() and not other.exists()


def test_save_prunes_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    now = time.time()
    expired = _file(folder, "facts-expired.pickle", 10, 40, now)
    older = _file(folder, "facts-older.pickle", 400, 2, now)
    newer = _file(folder, "facts-newer.pickle", 400, 1, now)
    size = len(_dump({"format": MARKER_FORMAT, "entries": {content_key(SOURCE): _facts()}}))
    monkeypatch.setattr(cache, "MAX_TOTAL_BYTES", size + 500)

    writer, key, facts = _saved(tmp_path / "project", directory=folder)

    assert writer.path is not None and writer.path.exists()
    assert not expired.exists() and not older.exists() and newer.exists()
    assert sum(p.stat().st_size for p in folder.glob("facts-*.pickle")) <= size + 500
    assert FactsCache(tmp_path / "project", directory=folder).get(key) == facts


def test_prune_never_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.prune(tmp_path / "missing")
    now = time.time()
    by_age, by_size = tmp_path / "age", tmp_path / "size"
    by_age.mkdir()
    by_size.mkdir()
    expired = _file(by_age, "facts-expired.pickle", 10, 40, now)
    recent = _file(by_age, "facts-recent.pickle", 10, 1, now)
    big = _file(by_size, "facts-big.pickle", 400, 1, now)
    bigger = _file(by_size, "facts-bigger.pickle", 400, 2, now)
    monkeypatch.setattr(cache, "MAX_TOTAL_BYTES", 100)

    def refuse(path: Any) -> None:
        raise PermissionError(path)

    with monkeypatch.context() as patched:
        patched.setattr(cache.os, "unlink", refuse)
        cache.prune(by_age)  # no exception
        cache.prune(by_size)
    assert all(path.exists() for path in (expired, recent, big, bigger))


def test_an_unchanged_cache_in_use_does_not_age_out(tmp_path: Path) -> None:
    writer, key, _ = _saved(tmp_path)
    assert writer.path is not None
    old = time.time() - 20 * DAY
    os.utime(writer.path, (old, old))
    reader = FactsCache(tmp_path)
    assert reader.get(key) is not None
    reader.save()  # nothing new to write: only marks the file as in use
    assert writer.path.stat().st_mtime > time.time() - DAY


def _filled(root: Path, directory: Path, keys: Any) -> FactsCache:
    writer = FactsCache(root, directory=directory)
    for key in keys:
        writer.put(key, ModuleFacts())
    writer.save()
    return writer


def test_one_changed_file_writes_a_small_delta_not_the_whole_cache(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    base = [f"k{n}" for n in range(200)]
    writer = _filled(tmp_path, directory, base)
    assert writer.path is not None and writer.delta_path is not None
    before = writer.path.read_bytes()
    # One file changed: its old key unused, a new one parsed.
    reader = FactsCache(tmp_path, directory=directory)
    for key in base[1:]:
        assert reader.get(key) is not None
    reader.put("changed", _facts())
    reader.save()
    assert writer.path.read_bytes() == before and writer.delta_path.is_file()
    again = FactsCache(tmp_path, directory=directory)
    assert again.get("changed") == _facts() and again.get("k5") is not None


def test_delta_of_an_older_base_is_ignored(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    _filled(tmp_path, directory, [f"k{n}" for n in range(200)])
    reader = FactsCache(tmp_path, directory=directory)
    for n in range(200):
        reader.get(f"k{n}")
    reader.put("changed", _facts())
    reader.save()
    assert reader.delta_path is not None
    stale_delta = reader.delta_path.read_bytes()
    # Most files changed: the base is rewritten (new token) and the delta removed...
    _filled(tmp_path, directory, [f"new{n}" for n in range(200)])
    assert not reader.delta_path.exists()
    # ...and a delta a concurrent run wrote against the old base does not leak into the new one.
    reader.delta_path.write_bytes(stale_delta)
    assert FactsCache(tmp_path, directory=directory).get("changed") is None


def test_a_long_lived_cache_skips_unchanged_files_by_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The editor server reads and hashes only the files changed since its last analysis: an
    unchanged file is not read again; a changed one is, even with the same size."""
    from celerylint import engine

    module = tmp_path / "tasks.py"
    module.write_text("import os\n")
    old = time.time_ns() - 10_000_000_000  # older than the racy window
    os.utime(module, ns=(old, old))
    warm = FactsCache(tmp_path, enabled=False)
    warm.remembers_stats = True
    reads = []
    real_read = engine._read
    monkeypatch.setattr(engine, "_read", lambda path, overrides: (reads.append(path), real_read(path, overrides))[1])

    first = engine.load_facts(tmp_path, [module], warm)
    warm.entries, warm.used = warm.used, {}  # as the server's cache keeps the last analysis
    second = engine.load_facts(tmp_path, [module], warm)
    assert reads == [module] and first.model == second.model

    module.write_text("import re\n")  # same size
    os.utime(module, ns=(old + 1_000, old + 1_000))
    third = engine.load_facts(tmp_path, [module], warm)
    assert reads == [module, module]
    assert [fact.module for fact in third.model[module].imports] == ["re"]

    one_shot = FactsCache(tmp_path, enabled=False)  # a CLI run: no stat calls, no memo
    engine.load_facts(tmp_path, [module], one_shot)
    assert one_shot.stat_keys == {}


def test_file_stats_are_kept_with_the_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A later run (a new process) skips reading files whose size and mtime are those recorded
    with the facts; a file changed since is read again, and so is one written too recently for
    its mtime to tell."""
    from celerylint import engine

    project, folder = tmp_path / "p", tmp_path / "cache"
    project.mkdir()
    stable, edited, fresh = project / "a.py", project / "b.py", project / "c.py"
    for path in (stable, edited, fresh):
        path.write_text("import os\n")
    old = time.time_ns() - 10_000_000_000  # older than the racy window
    for path in (stable, edited):
        os.utime(path, ns=(old, old))
    paths = [stable, edited, fresh]
    engine.load_facts(project, paths, FactsCache(project, directory=folder))

    reads: list = []
    real_read = engine._read
    monkeypatch.setattr(engine, "_read", lambda path, overrides: (reads.append(path), real_read(path, overrides))[1])
    edited.write_text("import re\n")  # same size
    os.utime(edited, ns=(old + 1_000, old + 1_000))
    loaded = engine.load_facts(project, paths, FactsCache(project, directory=folder))
    assert reads == [edited, fresh]
    assert [fact.module for fact in loaded.model[edited].imports] == ["re"]
    assert [fact.module for fact in loaded.model[stable].imports] == ["os"]

    reads.clear()
    engine.load_facts(project, paths, FactsCache(project, directory=folder))
    assert reads == [fresh]  # the edit's new stats were recorded; the fresh file never is


def test_malformed_stats_are_ignored_not_trusted(tmp_path: Path) -> None:
    path = _cache_path(tmp_path)
    for stats in ({"x": (1, 2)}, {"x": ("1", 2, "k")}, {1: (1, 2, "k")}, ["x"], {"x": (1, 2, None)}):
        _write(path, _dump({"format": MARKER_FORMAT, "token": "t", "entries": {"k": _facts()}, "stats": stats}))
        loaded = FactsCache(tmp_path)
        assert loaded.get("k") == _facts() and loaded.stat_keys == {}


def test_a_cold_start_lets_the_workers_read_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing cached, the main process reads no file: the parse workers do, and a file they
    cannot use still becomes a notice and unanalysed facts, in worker processes too."""
    from celerylint import engine

    project, folder = tmp_path / "p", tmp_path / "cache"
    (project / "pkg").mkdir(parents=True)
    paths = []
    for number in range(engine.PARALLEL_THRESHOLD + 6):
        path = project / "pkg" / f"m{number}.py"
        path.write_text(f"import os\nVALUE = {number}\n")
        paths.append(path)
    huge = project / "pkg" / "huge.py"
    with open(huge, "wb") as handle:
        handle.truncate(engine.MAX_FILE_BYTES + 1)  # sparse: no disk used
    paths.append(huge)
    reads: list = []
    real_read = engine._read
    monkeypatch.setattr(engine, "_read", lambda path, overrides: (reads.append(path), real_read(path, overrides))[1])
    loaded = engine.load_facts(project, paths, FactsCache(project, directory=folder), jobs=2)
    assert reads == []  # the workers (other processes) read them
    assert loaded.model[paths[7]].globals[0].value == Const(7)
    assert loaded.model[huge].unanalysed is not None
    assert loaded.notices == (f"pkg/huge.py: skipped: larger than {engine.MAX_FILE_BYTES // 1_000_000} MB, not analysed",)

    warm = engine.load_facts(project, paths, FactsCache(project, directory=folder), jobs=2)
    assert warm.model[paths[7]] == loaded.model[paths[7]] and warm.notices == loaded.notices


def test_files_stat_ed_for_the_run_key_are_not_stat_ed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stats the results cache's key was made of find unchanged files in the facts cache:
    one stat per file per run."""
    from celerylint import engine

    project, folder = tmp_path / "p", tmp_path / "cache"
    project.mkdir()
    paths = []
    for number in range(3):
        path = project / f"m{number}.py"
        path.write_text(f"VALUE = {number}\n")
        paths.append(path)
    engine.load_facts(project, paths, FactsCache(project, directory=folder))
    past = time.time() - 60  # not racily clean: the stat alone is trusted
    for path in paths:
        os.utime(path, (past, past))
    engine.load_facts(project, paths, FactsCache(project, directory=folder))  # records the stats
    stats = {str(path): os.stat(path) for path in paths}
    stat_ed: list = []
    monkeypatch.setattr(engine, "stat_or_none", lambda path: stat_ed.append(path))
    monkeypatch.setattr(engine, "_read", lambda path, overrides: pytest.fail(f"{path} read again"))
    loaded = engine.load_facts(project, paths, FactsCache(project, directory=folder), stats=stats)
    assert stat_ed == [] and loaded.model[paths[2]].globals[0].value == Const(2)


def test_a_delta_records_only_the_stats_that_changed(tmp_path: Path) -> None:
    """After one file is edited and one deleted, the delta holds that file's stats and the
    deleted path, not a line per file; loaded back, the stats are the run's."""
    from celerylint import engine

    project, folder = tmp_path / "p", tmp_path / "cache"
    project.mkdir()
    old = time.time_ns() - 10_000_000_000  # older than the racy window
    paths = []
    for number in range(100):
        path = project / f"m{number}.py"
        path.write_text(f"VALUE = {number}\n")
        os.utime(path, ns=(old, old))
        paths.append(path)
    engine.load_facts(project, paths, FactsCache(project, directory=folder))
    paths[0].write_text("VALUE = 'edited'\n")
    os.utime(paths[0], ns=(old + 1_000, old + 1_000))
    gone = paths.pop()
    gone.unlink()
    run = FactsCache(project, directory=folder)
    engine.load_facts(project, paths, run)
    assert run.delta_path is not None and run.delta_path.is_file()
    loaded = cache.load_entries(run.delta_path, tag="base")
    assert loaded is not None
    assert set(loaded[3]) == {str(paths[0])} and loaded[4] == (str(gone),)
    again = FactsCache(project, directory=folder)
    assert again.stat_keys == {path: value for path, value in run.stat_keys.items() if path != str(gone)}
    assert len(again.stat_keys) == 99 and again.stat_keys[str(paths[0])][:2] == (17, old + 1_000)


@pytest.mark.parametrize("dropped", [["a"], ("a", 1), "a", {"a": 1}, None])
def test_a_malformed_dropped_list_drops_nothing(tmp_path: Path, dropped: object) -> None:
    """A delta's list of dropped stats that is not exactly a tuple of paths is ignored: the
    base's stats stand, the delta's own are still merged."""
    path = _cache_path(tmp_path)
    delta = path.with_name(path.name.replace(cache.FILE_SUFFIX, cache.DELTA_SUFFIX))
    stats = {"a": (1, 2, "k"), "b": (3, 4, "k")}
    _write(path, _dump({"format": MARKER_FORMAT, "token": "t", "entries": {"k": _facts()}, "stats": stats}))
    _write(delta, _dump({"format": MARKER_FORMAT, "base": "t", "entries": {}, "stats": {"b": (5, 6, "k")}, "dropped": dropped}))
    loaded = FactsCache(tmp_path)
    assert loaded.stat_keys == {"a": (1, 2, "k"), "b": (5, 6, "k")}
    _write(delta, _dump({"format": MARKER_FORMAT, "base": "t", "entries": {}, "stats": {}, "dropped": ("a",)}))
    assert FactsCache(tmp_path).stat_keys == {"b": (3, 4, "k")}
