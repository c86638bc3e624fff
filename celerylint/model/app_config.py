"""Configuration sources and their effective values, with where each came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Literal, Optional, Tuple

from celerylint.facts.types import Value
from celerylint.model.setting_names import canonical_setting

Place = Tuple[str, str]  # (module, scope) where a statement runs
# A setting is set (to a value, known or not), may be set by something unknown, or is not set.
LookupState = Literal["set", "unknown", "not set"]


@dataclass(frozen=True)
class Origin:
    rel: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.rel}:{self.line}"


@dataclass(frozen=True)
class Entry:
    """One key a source sets: raw key as written, value, where it runs and where it is written."""

    key: str
    value: Optional[Value]
    place: Place  # where the statement that applies it runs
    origin: Origin
    ctx: Optional[Place] = None  # where the value is written, when not at `place`
    # Why the value may differ at run time although the key is set ("may be overridden by the star
    # import at x/settings.py:40 of optional module x.local_settings, absent from the repository"):
    # the value is what the repository writes, not necessarily what runs.
    note: Optional[str] = None
    # What holds the key: "keyword" (a call's keyword, `conf.x = v`), "dict" (a dict literal),
    # "module", "class", or a web framework's config read whole: "flask", "django".
    container: str = ""

    @property
    def value_ctx(self) -> Place:
        return self.ctx or self.place


@dataclass(frozen=True)
class Opacity:
    """A source that may set any key (key None), or may or may not set one key."""

    why: str
    place: Place
    origin: Origin
    key: Optional[str] = None


@dataclass
class Mapping:
    entries: List[Entry] = field(default_factory=list)
    opaque: List[Opacity] = field(default_factory=list)

    def extend(self, other: "Mapping") -> None:
        self.entries.extend(other.entries)
        self.opaque.extend(other.opaque)

    def get(self, key: str) -> Optional[Entry]:
        for entry in reversed(self.entries):
            if entry.key == key:
                return entry
        return None


# Priorities follow Celery: constructor kwargs and conf writes beat config_from_object.
PRECONF = 2
FROM_OBJECT = 1


@dataclass(frozen=True)
class Source:
    mapping_entries: Tuple[Entry, ...]
    opaque: Tuple[Opacity, ...]
    priority: int
    namespace: Optional[str]
    place: Place  # where the call that applies this source runs
    # "constructor" (Celery(...) keywords), "object" (config_from_object, config_source=),
    # "write" (conf.update, conf.setdefault, conf.x = v), "" (anything else).
    kind: str = ""


@dataclass(frozen=True)
class SettingValue:
    name: str
    value: Optional[Value]  # None: set, to something not known statically
    origin: Origin
    raw_key: str
    ctx: Optional[Place] = None  # where the value is written, to evaluate it
    note: Optional[str] = None  # why the value is not known although the setting is (Entry.note)


@dataclass
class ResolvedConfig:
    settings: Dict[str, SettingValue]
    opaque: List[Opacity]
    uncertain: Dict[str, Opacity] = field(default_factory=dict)  # setting -> why it may be set

    def lookup(self, name: str) -> Tuple[LookupState, Optional[SettingValue]]:
        """("set", setting) | ("unknown", None) | ("not set", None)."""
        setting = self.settings.get(name)
        if setting is not None:
            return "set", setting
        if self.opaque or name in self.uncertain:
            return "unknown", None
        return "not set", None


def resolve_config(sources: List[Source], executed: Optional[FrozenSet[Place]]) -> ResolvedConfig:
    """The settings an app sees when only the statements in ``executed`` run (None: all)."""

    def runs(place: Place) -> bool:
        return executed is None or place in executed

    chosen: Dict[str, Tuple[int, SettingValue]] = {}
    opaque: List[Opacity] = []
    uncertain: Dict[str, Opacity] = {}
    namespace = None
    for source in sources:
        if source.namespace and runs(source.place):
            namespace = source.namespace
    for source in sources:
        if not runs(source.place):
            continue
        ns = source.namespace or namespace
        for item in source.opaque:
            if not runs(item.place):
                continue
            if item.key is None:
                opaque.append(item)
            else:
                name = canonical_setting(item.key, ns)
                if name is not None:
                    uncertain.setdefault(name, item)
        for entry in source.mapping_entries:
            if not runs(entry.place):
                continue
            name = canonical_setting(entry.key, ns)
            if name is None:
                continue
            value = entry.value if entry.note is None else None  # a value that may be overridden is not known
            setting = SettingValue(name, value, entry.origin, entry.key, entry.value_ctx, entry.note)
            previous = chosen.get(name)
            if previous is None or previous[0] <= source.priority:
                chosen[name] = (source.priority, setting)
    return ResolvedConfig({name: item[1] for name, item in chosen.items()}, opaque, uncertain)
