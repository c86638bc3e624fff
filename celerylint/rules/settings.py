"""CEL010, CEL011, CEL012, CEL025: settings Celery accepts without a word and fails on later.

Celery's own table (celery.app.defaults, through model/setting_names.py) says which keys are
settings, old and new; `celery.app.utils.detect_settings` is followed for mixed names.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Set, Tuple

from celerylint.facts.types import Const, Loc, Opaque, Ref, Seq, Value
from celerylint.findings import Related
from celerylint.model.app_config import Entry, Origin, ResolvedConfig, SettingValue, Source
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project
from celerylint.model.resolve import AppObj
from celerylint.model.setting_names import canonical_setting, tables
from celerylint.rules.base import Case, Report, Rule, case, related_at, report

SHARED = frozenset({"flask", "django"})  # a web framework's whole config: most keys are not Celery's
STRICT = frozenset({"keyword", "dict"})  # written for Celery alone: every key is meant as a setting
CELERY_PREFIXES = ("CELERY_", "CELERYD_", "CELERYBEAT_", "CELERYMON_")
# Settings modules and config classes that production does not load.
NOT_PRODUCTION = frozenset({"test", "tests", "testing", "ci", "conftest", "dev", "develop", "development", "local", "debug"})
MODULE_PATH = re.compile(r"[a-z_][a-z0-9_]*(\.[A-Za-z_]\w*)*")  # "djcelery_email", "redbeat.RedBeatScheduler"
WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
CONSEQUENCES = {
    "broker_url": "the broker stays amqp://guest@localhost//",
    "result_backend": "no result backend is set",
    "task_time_limit": "tasks run with no time limit",
    "task_soft_time_limit": "tasks run with no time limit",
}
SERIALIZER_SETTINGS = ("accept_content", "result_accept_content", "task_serializer", "result_serializer")


def celery_3(project: Project) -> bool:
    """A project declaring Celery 3: no lower-case names, no detect_settings, another table."""
    version = project.deploy.version("celery")
    return version is not None and version[:1] < (4,)


# --- what the rules share ----------------------------------------------------------------


@dataclass(frozen=True)
class KeyUse:
    """One key of one source of one app."""

    app: AppObj
    source: Source
    entry: Entry
    namespace: Optional[str]


class SettingsView:
    """The project's configuration keys as the settings rules see them (built per run)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.tables = tables()
        self.by_rel: Dict[str, ModuleInfo] = {info.rel: info for info in project.index.modules()}

    @cached_property
    def namespaces(self) -> Dict[AppObj, Tuple[bool, Optional[str]]]:
        """Each app's namespace: (known, namespace). Unknown for a computed one or an extension's app."""
        found: Dict[AppObj, Tuple[bool, Optional[str]]] = {}
        for app, definition in self.project.apps.items():
            known = definition.extension is None
            namespace = None
            value = definition.call.kwarg("namespace")
            if value is not None:
                known = known and isinstance(value, Const) and (value.value is None or isinstance(value.value, str))
                namespace = value.value if isinstance(value, Const) and isinstance(value.value, str) else None
            found[app] = (known, namespace)
        for info, call in self.project.calls_named("config_from_object"):
            func = call.value.func
            if not (isinstance(func, Ref) and "." in func.path):
                continue
            value = call.value.kwarg("namespace") or (call.value.args[3] if len(call.value.args) > 3 else None)
            if value is None or (isinstance(value, Const) and value.value is None):
                continue
            receiver = Ref(func.scope, func.path.rpartition(".")[0])
            for obj in self.project.graph.receivers(info, call.scope, receiver):
                for app in self.project.apps_of(obj):
                    known, namespace = found.get(app, (True, None))
                    if isinstance(value, Const) and isinstance(value.value, str) and namespace in (None, value.value):
                        found[app] = (known, value.value)
                    else:
                        found[app] = (False, None)
        return found

    def key_uses(self) -> Iterator[KeyUse]:
        """Every key of every source of every app whose namespace is known."""
        for app in self.project.apps:
            known, namespace = self.namespaces.get(app, (False, None))
            if not known:
                continue
            for source in self.project.config_sources(app):
                for entry in source.mapping_entries:
                    yield KeyUse(app, source, entry, source.namespace or namespace)

    @cached_property
    def shared_places(self) -> FrozenSet[Tuple[str, str]]:
        """Modules and classes a web framework reads whole (Flask config classes, Django settings)."""
        places: Set[Tuple[str, str]] = set()
        objects = self.project.objects
        for flask in objects.flask_sources:
            places.update(entry.value_ctx for entry in objects.flask_mapping(flask).entries)
        for use in self.key_uses():
            if use.entry.container == "django":
                places.add(use.entry.value_ctx)
        settings = objects.django_settings_module()
        if settings is not None:
            places.update(entry.value_ctx for entry in objects.module_mapping(settings.name).entries)
        return frozenset(places)

    def container(self, entry: Entry) -> str:
        if entry.container in ("module", "class") and entry.value_ctx in self.shared_places:
            return "shared"
        return "shared" if entry.container in SHARED else entry.container

    @cached_property
    def names_read(self) -> FrozenSet[str]:
        """Every name and attribute the project reads, and every string it passes: a key the
        project reads itself (`settings.CELERY_ENABLED`) is its own setting, not a typo."""
        found: Set[str] = set()
        for info in self.project.index.modules():
            facts = info.facts
            for use in facts.uses:
                found.update(use.ref.path.split("."))
            for fact in facts.imports:
                found.update(fact.names)
            found.update(facts.names_read)
        return frozenset(found)

    def guarded(self, origin: Origin, key: str) -> bool:
        """Whether the statement that writes ``key`` at ``origin`` is inside an if, a loop or an
        except: it may not run. Unknown statements count as guarded."""
        info = self.by_rel.get(origin.rel)
        if info is None:
            return True
        facts = info.facts
        bindings = list(facts.globals) + [binding for cls in facts.classes for binding in cls.attributes]
        for binding in bindings:
            if binding.loc.line == origin.line and binding.name == key:
                return binding.guarded
        for call in facts.calls:
            if call.loc.line == origin.line and call.loc.col == origin.col:
                return call.guarded
        for store in facts.stores:
            if store.loc.line == origin.line and store.loc.col == origin.col:
                return store.guarded
        return True

    def production_views(self, app: AppObj) -> List[ResolvedConfig]:
        """The app's configuration as production runs it: each certain worker's view; without
        one, every statement's (settings written only in test or dev code are left out later)."""
        workers = self.project.workers_for(app)
        if workers and all(worker.explicit and not worker.closure.uncertain for worker in workers):
            return [self.project.config(app, worker.closure.places()) for worker in workers]
        return [self.project.config(app)]

    def not_production(self, setting: SettingValue) -> bool:
        """Written in test or development code: a test module, a settings module or config class
        named test/testing/ci/dev/local..., or a branch that may not run."""
        info = self.by_rel.get(setting.origin.rel)
        if info is None or info.is_test:
            return True
        if any(_words(part) & NOT_PRODUCTION for part in info.name.split(".")):
            return True
        for cls in info.facts.classes:
            if any(binding.loc.line == setting.origin.line and binding.name == setting.raw_key for binding in cls.attributes):
                if any(_words(part) & NOT_PRODUCTION for part in cls.qualname.split(".")):
                    return True
        return self.guarded(setting.origin, setting.raw_key)


def _words(name: str) -> Set[str]:
    """`TestingConfig` -> {testing, config}; `settings_ci` -> {settings, ci}."""
    return {word.lower() for part in name.split("_") for word in WORDS.findall(part)}


def _collect_strings(value: Value, found: Set[str]) -> None:
    if type(value) is Opaque:  # most module globals a scan keeps: nothing inside
        return
    stack: List[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Const):
            if isinstance(item.value, str) and len(item.value) < 200:
                found.add(item.value)
        elif isinstance(item, tuple):  # a value (a named tuple) or a tuple of values
            stack.extend(item)


def _close(word: str, candidates: Iterable[str]) -> Optional[str]:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.8)
    return matches[0] if matches else None


def _loc(origin: Origin, key: str) -> Loc:
    return Loc(origin.line, origin.col, origin.line, origin.col + len(key))


def _key_loc(view: "SettingsView", origin: Origin, key: str) -> Loc:
    """Where ``key`` is written: the keyword of the call at ``origin``, else ``origin`` itself."""
    info = view.by_rel.get(origin.rel)
    for call in info.facts.calls if info is not None else ():
        if call.loc.line == origin.line and call.loc.col == origin.col:
            for name, loc in call.arg_locs:
                if name == key:
                    return loc
    return _loc(origin, key)


def _app_related(project: Project, app: AppObj, what: str) -> Related:
    definition = project.apps[app]
    return related_at(definition.module.rel, definition.loc.line, definition.loc.col, what)


# --- CEL010 unknown-setting --------------------------------------------------------------


class _UnknownKeys:
    def __init__(self, view: SettingsView) -> None:
        self.view = view
        self.project = view.project
        self.tables = view.tables

    @cached_property
    def subclass_apps(self) -> FrozenSet[AppObj]:
        return frozenset(app for app in self.project.apps if self.project.app_model.app_class(app) is not None)

    @cached_property
    def extension_words(self) -> FrozenSet[str]:
        """Words of the Celery extensions the project uses (imported, or named in a string such as
        INSTALLED_APPS): they read their own keys from the app's configuration (celery_once's
        ONCE, redbeat's redbeat_redis_url, django-celery-email's CELERY_EMAIL_TASK_CONFIG)."""
        modules = self.project.index.modules()
        imported = {fact.module for info in modules for fact in info.facts.imports}  # one split per name
        tops = {module.partition(".")[0] for module in imported if not module.startswith(".")}
        strings: Set[str] = set()
        for info in modules:
            for binding in info.facts.globals:
                _collect_strings(binding.value, strings)
        tops.update(text.partition(".")[0] for text in strings if MODULE_PATH.fullmatch(text))
        words: Set[str] = set()
        for top in tops:
            lowered = top.lower()
            if ("celery" in lowered or "beat" in lowered) and lowered != "celery" and self.project.index.get(top) is None:
                words.add(lowered)
                words.update(lowered.split("_"))
        return frozenset(words - self._setting_words - {"celery", "django", "flask", ""})

    def _read_undeclared(self, key: str, namespace: Optional[str]) -> bool:
        """A key Celery's code reads though its table does not declare it."""
        if namespace and key.upper().startswith(f"{namespace}_".upper()):
            key = key[len(namespace) + 1 :].lower()
        return key in self.tables.undeclared

    def _extension_key(self, key: str, namespace: Optional[str]) -> bool:
        rest = key
        for prefix in CELERY_PREFIXES + ((f"{namespace}_",) if namespace else ()):
            if key.upper().startswith(prefix.upper()):
                rest = key[len(prefix) :]
                break
        return rest.split("_", 1)[0].lower() in self.extension_words

    def message(self, use: KeyUse) -> Optional[Tuple[str, str]]:
        """Why Celery ignores the key, and the fix; None when Celery reads it or it is not meant for Celery."""
        key, namespace = use.entry.key, use.namespace
        if not key or key.startswith("_") or canonical_setting(key, namespace) is not None or self._read_undeclared(key, namespace):
            return None
        if use.source.kind == "constructor" and (key in self.tables.constructor or use.app in self.subclass_apps):
            return None  # Celery(loader=..., set_as_current=...), or a subclass's own parameters
        container = self.view.container(use.entry)
        if not self._meant_for_celery(key, namespace, container) or self._extension_key(key, namespace):
            return None
        if container not in STRICT and (use.entry.value is None or key in self.view.names_read):
            return None  # an imported name, or a key the project reads itself
        return self._why(key, namespace)

    def _meant_for_celery(self, key: str, namespace: Optional[str], container: str) -> bool:
        """Written for Celery alone, or a key that looks like a Celery setting: a Celery prefix,
        a setting's namespace (`task_...`) in a Celery-only module, a near miss of a name."""
        if container in STRICT:
            return True
        prefixed = key.startswith(CELERY_PREFIXES) or (namespace is not None and key.upper().startswith(f"{namespace}_".upper()))
        if container == "shared":
            return prefixed  # else a Flask or Django setting, not Celery's
        if container in ("module", "class"):
            namespaced = key == key.lower() and key.split("_", 1)[0] in self._setting_words
            return prefixed or namespaced or self._suggestion(key, namespace) is not None
        return False

    def _why(self, key: str, namespace: Optional[str]) -> Tuple[str, str]:
        tables_ = self.tables
        rest = key[len("CELERY_") :] if key.startswith("CELERY_") else ""
        if namespace is None and rest.isupper() and rest.lower() in tables_.names:
            old = tables_.to_old.get(rest.lower(), rest.lower())
            return f"Celery ignores '{key}' without namespace='CELERY' (this app has none)", f"Use its old name, '{old}'."
        suggestion = self._suggestion(key, namespace)
        if suggestion is not None:
            consequence = CONSEQUENCES.get(canonical_setting(suggestion, namespace) or "")
            tail = f", so {consequence}" if consequence else " and keeps the default"
            return f"'{key}' is not a Celery setting: Celery ignores it{tail}", f"Did you mean '{suggestion}'?"
        option = self._task_option(key, namespace)
        if option is not None:
            return f"'{key}' is not a Celery setting: Celery ignores it ({option} is a task option)", f"Pass it to the task: @app.task({option}=...)."
        return f"'{key}' is not a Celery setting: Celery ignores it and keeps the default", ""

    def _task_option(self, key: str, namespace: Optional[str]) -> Optional[str]:
        """`CELERY_TASK_MAX_RETRIES` -> max_retries, an option of Celery's Task class."""
        rest = key
        for prefix in CELERY_PREFIXES + ((f"{namespace}_",) if namespace else ()):
            if key.upper().startswith(prefix.upper()):
                rest = key[len(prefix) :]
                break
        rest = rest.lower()
        rest = rest[len("task_") :] if rest.startswith("task_") else rest
        return rest if rest in self.tables.task_options else None

    @cached_property
    def _setting_words(self) -> FrozenSet[str]:
        return frozenset(name.split("_", 1)[0] for name in self.tables.names if "_" in name)

    def _suggestion(self, key: str, namespace: Optional[str]) -> Optional[str]:
        names, old_names = self.tables.names, self.tables.to_new
        if namespace and key.upper().startswith(f"{namespace}_".upper()):
            rest = key[len(namespace) + 1 :]
            match = _close(rest.lower(), names)
            if match is not None:
                return key[: len(namespace) + 1] + (match.upper() if rest.isupper() else match)
        if key == key.lower():
            return _close(key, names)
        return _close(key, old_names)


def check_unknown(project: Project) -> Iterator[Report]:
    if celery_3(project):
        return
    view = project.shared("settings.view", lambda: SettingsView(project))
    judge = _UnknownKeys(view)
    verdicts: Dict[Tuple[Origin, str], Optional[Tuple[Tuple[str, str], AppObj]]] = {}
    for use in view.key_uses():
        where = (use.entry.origin, use.entry.key)
        if where in verdicts and verdicts[where] is None:
            continue
        why = judge.message(use)
        verdicts[where] = (why, use.app) if why is not None else None
    for (origin, key), verdict in sorted(verdicts.items(), key=lambda item: (item[0][0].rel, item[0][0].line, item[0][0].col, item[0][1])):
        if verdict is not None:
            (text, hint), app = verdict
            related = [_app_related(project, app, "the app that reads this configuration")]
            yield report(origin.rel, _key_loc(view, origin, key), text, related, hint)


# --- CEL011 mixed-setting-names ----------------------------------------------------------


def mixing_losers(keys: Set[str], prefix: Optional[str] = None) -> Tuple[Set[str], Set[str]]:
    """celery/app/utils.py: detect_settings, step by step: (the keys it rejects, the keys of the
    style that wins). The majority style wins, a tie goes to the new names, a prefix forces the
    new names and rejects nothing; a key whose counterpart is also given is not rejected."""
    table = tables()
    is_in_new = keys & table.names
    is_in_old = keys & set(table.to_new)
    info: Optional[str] = None  # "new" | "old": the style that wins
    left: Set[str] = set()
    if is_in_new:
        info, left = "new", is_in_old
        if is_in_old and len(is_in_old) > len(is_in_new):
            info, left = "old", is_in_new
    if is_in_old:
        if not info:
            info, left = "old", is_in_new
        if is_in_new and len(is_in_new) > len(is_in_old):
            info, left = "new", is_in_old
    else:
        info, left = "new", is_in_old
    if prefix:
        info, left = "new", set()
    new_wins = info == "new"
    convert = table.to_new if new_wins else table.to_old
    really_left = {key for key in left if convert[key] not in keys}
    return really_left, (is_in_new if new_wins else is_in_old)


class _Mixing:
    def __init__(self, view: SettingsView) -> None:
        self.view = view
        self.project = view.project

    def source_keys(self, app: AppObj, places: Optional[FrozenSet[Tuple[str, str]]]) -> Optional[List[Entry]]:
        """The keys detect_settings looks at as a process running ``places`` (None: every
        statement) configures the app: the config object's keys if it reads one, else what is
        written to app.conf. None when that is not known."""

        def runs(place: Tuple[str, str]) -> bool:
            info = self.project.index.by_name.get(place[0])
            return (places is None or place in places) and info is not None and not info.is_test

        sources = [source for source in self.project.config_sources(app) if runs(source.place)]
        if any(source.kind == "" for source in sources):
            return None  # config_from_envvar, an extension, a module that does not parse
        objects = [source for source in sources if source.kind == "object"]
        if len(objects) > 1:
            return None  # which one is read last is not followed
        chosen = objects or [source for source in sources if source.kind == "write"]
        entries: List[Entry] = []
        for source in chosen:
            if source.opaque:
                return None
            for entry in source.mapping_entries:
                if runs(entry.place) and (entry.container != "django" or entry.key.isupper()):
                    entries.append(entry)
        constructor = self.view.tables.constructor - {"include"}
        auto = {
            entry.key
            for source in sources
            if source.kind == "constructor"
            for entry in source.mapping_entries
            if entry.key not in constructor
        }
        return [entry for entry in entries if entry.key not in auto]

    def rejected(self, entries: List[Entry]) -> Tuple[List[Entry], Set[str]]:
        """The entries whose keys detect_settings rejects, whether or not the statements in
        branches run; and the winning style's keys."""
        every = {entry.key for entry in entries}
        certain = {entry.key for entry in entries if not self.view.guarded(entry.origin, entry.key)}
        losers, winners = mixing_losers(every)
        surely, _ = mixing_losers(certain)
        return [entry for entry in entries if entry.key in losers and entry.key in surely], winners


@dataclass(frozen=True)
class MixedConfig:
    """One configuration (as one worker, or every process, reads it) that mixes old and new
    names: every key detect_settings looks at, the ones it rejects, and the winning style's keys."""

    app: AppObj
    entries: Tuple[Entry, ...]
    losers: Tuple[Entry, ...]
    winners: FrozenSet[str]


def mixed_configurations(project: Project, view: SettingsView) -> Iterator[MixedConfig]:
    """Every configuration whose keys detect_settings rejects (the same one may come once per worker)."""
    if celery_3(project):
        return
    mixing = _Mixing(view)
    for app, definition in project.apps.items():
        known, namespace = view.namespaces.get(app, (False, None))
        if not known or namespace or definition.module.is_test:
            continue
        workers = project.workers_for(app)
        certain = workers and all(worker.explicit and not worker.closure.uncertain for worker in workers)
        views = [worker.closure.places() for worker in workers] if certain else [None]
        for places in views:
            entries = mixing.source_keys(app, places)
            if entries is None:
                continue
            losers, winners = mixing.rejected(entries)
            if losers:
                yield MixedConfig(app, tuple(entries), tuple(losers), frozenset(winners))


def entry_loc(view: SettingsView, entry: Entry) -> Loc:
    """Where a finding about this key points: the keyword that writes it, else its statement."""
    return _key_loc(view, entry.origin, entry.key)


def check_mixed(project: Project) -> Iterator[Report]:
    view = project.shared("settings.view", lambda: SettingsView(project))
    table = view.tables
    seen: Set[Tuple[Origin, str]] = set()
    for config in mixed_configurations(project, view):
        for entry in config.losers:
            if (entry.origin, entry.key) in seen:
                continue
            seen.add((entry.origin, entry.key))
            new_wins = entry.key in table.to_new
            rename = table.to_new[entry.key] if new_wins else table.to_old[entry.key]
            style = "new lower-case" if new_wins else "old upper-case"
            related = [
                related_at(other.origin.rel, other.origin.line, other.origin.col, f"'{other.key}', a {style} name")
                for other in config.entries
                if other.key in config.winners
            ][:3]
            related.append(_app_related(project, config.app, "the app whose configuration mixes them"))
            yield report(
                entry.origin.rel, entry_loc(view, entry),
                f"'{entry.key}' mixed with {style} names: the worker fails at start with ImproperlyConfigured",
                related,
                hint=f"Rename it '{rename}'.",
            )


# --- CEL012 pickle-serializer and CEL025 always-eager-outside-tests ----------------------


def _production_settings(project: Project, view: SettingsView, name: str) -> Iterator[Tuple[AppObj, SettingValue]]:
    """The app settings called ``name`` as production sees them, written in production code."""
    seen: Set[Origin] = set()
    for app, definition in project.apps.items():
        if definition.module.is_test:
            continue
        for config in view.production_views(app):
            state, setting = config.lookup(name)
            if state != "set" or setting is None or setting.origin in seen or view.not_production(setting):
                continue
            seen.add(setting.origin)
            yield app, setting


def _strings(value: Optional[Value]) -> List[str]:
    if isinstance(value, Const) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, Seq):
        return [item.value for item in value.items if isinstance(item, Const) and isinstance(item.value, str)]
    return []


def check_pickle(project: Project) -> Iterator[Report]:
    view = project.shared("settings.view", lambda: SettingsView(project))
    pickle = view.tables.pickle
    for name in SERIALIZER_SETTINGS:
        for app, setting in _production_settings(project, view, name):
            chosen = [text for text in _strings(setting.value) if text.strip().lower() in pickle]
            if not chosen:
                continue
            if name.endswith("accept_content"):
                what = f"'{setting.raw_key}' accepts {chosen[0]!r}"
            else:
                what = f"'{setting.raw_key}' is {chosen[0]!r}, so workers must accept it"
            yield report(
                setting.origin.rel, _key_loc(view, setting.origin, setting.raw_key),
                f"{what}: anyone who can publish to the broker can run code in the worker",
                [_app_related(project, app, "the app this configures")],
                hint="Use json.",
            )


def check_eager(project: Project) -> Iterator[Report]:
    view = project.shared("settings.view", lambda: SettingsView(project))
    for app, setting in _production_settings(project, view, "task_always_eager"):
        if isinstance(setting.value, Const) and setting.value.value is True:
            yield report(
                setting.origin.rel, _key_loc(view, setting.origin, setting.raw_key),
                f"'{setting.raw_key}' is True in settings production loads: tasks run inline in the web process, "
                "never on a worker",
                [_app_related(project, app, "the app this configures")],
            )


# --- cases and rules ---------------------------------------------------------------------

CEL010_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", backend="redis://", task_time_limt=60)  # expect: CEL010
app.conf.update(broker_ur="redis://")  # expect: CEL010
app.conf.worker_prefetch_multiplyer = 1  # expect: CEL010
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/settings.py
SECRET_KEY = "x"
INSTALLED_APPS = ["proj"]
CELERY_BROKER_URL = "redis://"
CELERY_RESULT_BACKED = "redis://"  # expect: CEL010
# --- proj/celery.py
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/settings.py
SECRET_KEY = "x"
BROKER_URL = "redis://"
CELERYD_TASK_SOFT_TIME_LIMIT = 50
CELERY_TASK_TIME_LIMIT = 60  # expect: CEL010
# --- proj/celery.py
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
app = Celery("proj")
app.config_from_object("django.conf:settings")
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celeryconfig.py
broker_url = "redis://"
result_backend = "redis://"
task_acks_lates = True  # expect: CEL010
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj")
app.config_from_object("proj.celeryconfig")
'''
    ),
)
CEL010_VALID: Tuple[Case, ...] = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/settings.py
SECRET_KEY = "x"
DATABASES = {}
CELERY_BROKER_URL = "redis://"
CELERY_TASK_TIME_LIMIT = 60
CELERY_ALWAYS_EAGER = False  # the old name is read too
CELERY_ENABLED = True  # the project's own setting, read below
# --- proj/celery.py
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
# --- proj/views.py
from django.conf import settings


def send():
    return settings.CELERY_ENABLED
'''
    ),
    case(
        r'''
# --- app/__init__.py
from celery import Celery
from flask import Flask


class Config:
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    CELERY_BROKER_URL = "redis://"
    CELERY_RESULT_BACKEND = "redis://"


celery = Celery(__name__, broker=Config.CELERY_BROKER_URL)


def create_app():
    app = Flask(__name__)
    app.config.from_object(Config)
    celery.conf.update(app.config)  # Flask's own keys are not Celery's
    return app
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celeryconfig.py
import os

REDIS_HOST = os.environ.get("REDIS_HOST", "localhost")
broker_url = f"redis://{REDIS_HOST}:6379/0"
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", set_as_current=True, strict_typing=False)
app.config_from_object("proj.celeryconfig")
app.conf.ONCE = {"backend": "celery_once.backends.Redis"}  # celery_once reads it
# --- proj/tasks.py
from celery_once import QueueOnce
'''
    ),
)

CEL010_VALID = CEL010_VALID + (
    case(
        r'''
# --- web/__init__.py
from celery import Celery
from flask import Flask


class Config:
    SECRET_KEY = "dev"
    EVENT_QUEUE_TTL = 30  # the app's own: Flask reads this class too, so it is no typo of Celery's
    BROKER_URL = "redis://"


def create_app():
    app = Flask(__name__)
    app.config.from_object(Config)
    return app


celery = Celery(__name__)
celery.config_from_object(Config)
'''
    ),
    case(
        r'''
# --- requirements.txt
celery==3.1.25
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj")
app.conf.update(CELERY_TASK_RESULT_EXPIRES=3600, CELERY_REDIS_MAX_CONNECTIONS=10)  # Celery 3: another table
'''
    ),
)

CEL011_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj")
app.conf.update(
    broker_url="redis://",
    CELERY_RESULT_BACKEND="redis://",  # expect: CEL011
)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celeryconfig.py
BROKER_URL = "redis://"
CELERY_RESULT_BACKEND = "redis://"
task_time_limit = 60  # expect: CEL011
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj")
app.config_from_object("proj.celeryconfig")
'''
    ),
)
CEL011_VALID: Tuple[Case, ...] = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celeryconfig.py
BROKER_URL = "redis://"
CELERY_RESULT_BACKEND = "redis://"
CELERY_TASK_RESULT_EXPIRES = 3600
result_expires = 3600  # both names of one setting: tolerated
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", task_time_limit=60)  # constructor keywords are not checked
app.config_from_object("proj.celeryconfig")
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/settings.py
CELERY_BROKER_URL = "redis://"
CELERY_ALWAYS_EAGER = False
CELERY_TASK_TIME_LIMIT = 60
# --- proj/celery.py
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")  # a namespace reads both
app.conf.update(task_acks_late=True)
'''
    ),
)

CEL011_VALID = CEL011_VALID + (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celeryconfig.py
import os

broker_url = "redis://"
result_backend = "redis://"
if os.environ.get("LEGACY"):
    CELERY_ALWAYS_EAGER = True  # may not run: not said to break the worker
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj")
app.config_from_object("proj.celeryconfig")
'''
    ),
)

CEL012_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://")
app.conf.update(
    task_serializer="json",
    accept_content=["json", "pickle"],  # expect: CEL012
)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/settings.py
CELERY_BROKER_URL = "redis://"
CELERY_TASK_SERIALIZER = "pickle"  # expect: CEL012
CELERY_ACCEPT_CONTENT = ["application/x-python-serialize"]  # expect: CEL012
# --- proj/celery.py
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
'''
    ),
)
CEL012_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://")
app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")
# --- tests/conftest.py
from proj.celery_app import app

app.conf.accept_content = ["json", "pickle"]  # tests only
'''
    ),
)

CEL025_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/settings.py
CELERY_BROKER_URL = "redis://"
CELERY_TASK_ALWAYS_EAGER = True  # expect: CEL025
# --- proj/celery.py
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
'''
    ),
    case(
        r'''
# --- app/__init__.py
from celery import Celery

celery = Celery(__name__, broker="redis://")
celery.conf.task_always_eager = True  # expect: CEL025
'''
    ),
)
CEL025_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/settings/__init__.py
# --- proj/settings/base.py
import sys

CELERY_BROKER_URL = "redis://"
CELERY_TASK_ALWAYS_EAGER = False
if "pytest" in sys.argv[0]:
    CELERY_TASK_ALWAYS_EAGER = True
# --- proj/settings/test.py
from proj.settings.base import *

CELERY_TASK_ALWAYS_EAGER = True
# --- proj/celery.py
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings.base")
app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
'''
    ),
    case(
        r'''
# --- app/__init__.py
from celery import Celery


class Config:
    CELERY_BROKER_URL = "redis://"


class TestingConfig(Config):
    CELERY_ALWAYS_EAGER = True


celery = Celery(__name__)
celery.config_from_object(TestingConfig)
'''
    ),
)


RULE = Rule(
    code="CEL010",
    name="unknown-setting",
    summary="A configuration key Celery does not know: it is ignored and the default stays.",
    what=(
        "Checks every key written for Celery alone (`Celery(...)` keywords, `conf.update(...)`, "
        "`conf.x = ...`, `conf['x'] = ...`, dicts and config modules or classes only Celery reads) "
        "against Celery's own settings table, old and new names, under the app's namespace. In a "
        "Django settings module or Flask config that Celery shares, only keys with a Celery prefix "
        "(`CELERY_`, `CELERYD_`, `CELERYBEAT_`) are checked, and keys the project reads itself are "
        "its own. Without `namespace='CELERY'`, `CELERY_TASK_TIME_LIMIT` and the like mean nothing: "
        "the old names are `CELERYD_TASK_TIME_LIMIT`, `BROKER_URL`... The message suggests the "
        "nearest real name. Silent for projects that declare Celery 3."
    ),
    why=(
        "Celery stores any key without a word and reads only the names it knows: a misspelled "
        "`broker_url` means the worker connects to `amqp://guest@localhost//`, a misspelled time "
        "limit means no limit, and nothing says so."
    ),
    fix="Use the setting's real name (new lower-case, or `CELERY_` + its upper-case name under `namespace='CELERY'`).",
    invalid=CEL010_INVALID,
    valid=CEL010_VALID,
    check=check_unknown,
    autofix="unsafe",
)

MIXED_RULE = Rule(
    code="CEL011",
    name="mixed-setting-names",
    summary="One configuration mixes old upper-case setting names with new lower-case ones.",
    what=(
        "Follows `celery.app.utils.detect_settings`: the keys of the config object the app reads "
        "(else the keys written to `app.conf`, never the constructor's keywords) are split into new "
        "names (`broker_url`) and old ones (`BROKER_URL`, `CELERY_RESULT_BACKEND`, `CELERYD_...`); "
        "the majority wins (a tie goes to the new names), and each key of the other style whose "
        "counterpart is not also given is reported. Silent with a namespace, which forces the new "
        "names and rejects nothing."
    ),
    why=(
        "Celery raises `ImproperlyConfigured: Cannot mix new and old setting keys` the first time "
        "the configuration is read: the worker does not start, and `.delay()` fails in the web process."
    ),
    fix="Rename the reported keys to the style of the rest of the configuration, as the message says.",
    invalid=CEL011_INVALID,
    valid=CEL011_VALID,
    check=check_mixed,
    autofix="safe",
)

PICKLE_RULE = Rule(
    code="CEL012",
    name="pickle-serializer",
    summary="`pickle` in accept_content, result_accept_content, task_serializer or result_serializer.",
    what=(
        "Finds `pickle` (or its content type `application/x-python-serialize`) in `accept_content`, "
        "`result_accept_content`, `task_serializer` or `result_serializer` (old names included) as "
        "production code configures the app; settings written only for tests or development are "
        "left out."
    ),
    why=(
        "A worker that accepts pickle unpickles whatever the broker hands it: anyone who can publish "
        "a message (a shared Redis, a leaked broker URL) runs code in the worker."
    ),
    fix="Keep JSON, Celery's default; pass ids and plain data to tasks instead of objects.",
    invalid=CEL012_INVALID,
    valid=CEL012_VALID,
    check=check_pickle,
)

EAGER_RULE = Rule(
    code="CEL025",
    name="always-eager-outside-tests",
    summary="`task_always_eager=True` (CELERY_ALWAYS_EAGER) in settings production loads.",
    what=(
        "Finds `task_always_eager` set to `True` in the configuration a worker (or, with no worker "
        "known, any process) reads, unconditionally, outside test and development code: test "
        "modules, settings modules or config classes named test, testing, ci, dev or local, and "
        "`if` branches are left out."
    ),
    why=(
        "With it, `.delay()` runs the task inline in the web process and returns an EagerResult: "
        "requests block on the task, no worker ever sees it, and registration mistakes stay hidden "
        "until the setting is removed."
    ),
    fix="Set it only in test settings (or a fixture); production sends tasks to the broker.",
    invalid=CEL025_INVALID,
    valid=CEL025_VALID,
    check=check_eager,
)
