"""What a configuration object contains: Flask `app.config`, settings modules and classes,
dicts, Django settings; each key with where it is applied and where it is written.

Whatever cannot be followed becomes an Opacity: the keys are unknown, never missing.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Dict, List, Optional, Set, Tuple

from celerylint.facts.types import MODULE_SCOPE, Attr, Call, CallFact, Const, DictVal, FunctionFact, Loc, Ref, Sub, Value
from celerylint.model.app_config import Entry, Mapping, Opacity, Origin, Place
from celerylint.model.graph import ProgramGraph, origin
from celerylint.model.modules import ModuleInfo
from celerylint.model.resolve import AttrOf, ClassObj, Ctx, ExtObj, InstObj, ModObj, Obj, UnknownObj, ValObj

FLASK_CLASSES = frozenset({"flask.Flask", "flask.app.Flask"})
FLASK_CONFIG_OPAQUE = frozenset({"from_pyfile", "from_envvar", "from_prefixed_env", "from_file"})
# Installed packages whose star imports bind no configuration keys.
SETTINGLESS_PACKAGES = frozenset({"celery", "kombu", "django", "flask", "billiard", "typing_extensions"})


def _held_by(mapping: Mapping, container: str) -> Mapping:
    """The mapping's keys as read through a web framework's whole config (shared with Celery)."""
    return Mapping([replace(entry, container=container) for entry in mapping.entries], mapping.opaque)


def _as_lookup(value: Value) -> Optional[Sub]:
    """``x[k]`` and ``x.get(k)`` as one shape."""
    if isinstance(value, Sub):
        return value
    if isinstance(value, Call) and isinstance(value.func, Ref) and value.func.last == "get" and value.args:
        if "." in value.func.path and not value.kwargs:
            return Sub(Ref(value.func.scope, value.func.path.rpartition(".")[0]), value.args[0])
    return None


def _attribute(value: Value) -> Optional[Tuple[Value, str]]:
    """``x.attr`` as (x, "attr"), for an expression or a dotted name."""
    if isinstance(value, Attr):
        return value.base, value.attr
    if isinstance(value, Ref) and "." in value.path.lstrip("."):
        head, _, last = value.path.rpartition(".")
        return Ref(value.scope, head), last
    return None


def _comparable(entry: Optional[Entry]) -> object:
    """What makes two candidates' values the same: a literal by itself, else where it is written;
    a value that may be overridden is only the same as itself."""
    if entry is not None and entry.note is not None:
        return entry
    if entry is None or isinstance(entry.value, Const):
        return entry.value if entry is not None else None
    return (entry.value, entry.value_ctx)


def _calls_init(call: CallFact) -> bool:
    """`super().__init__(...)` or `Base.__init__(self, ...)`."""
    func = call.value.func
    return (isinstance(func, Attr) and func.attr == "__init__") or (isinstance(func, Ref) and func.last == "__init__")


def _sets_attributes(call: Call, receiver: str) -> bool:
    """`setattr(self, ...)`, `self.__dict__.update(...)`, `vars(self).update(...)`."""
    func = call.func
    if isinstance(func, Ref) and func.path == "setattr" and call.args[:1] == (Ref("local", receiver),):
        return True
    if isinstance(func, Ref) and func.path == f"{receiver}.__dict__.update":
        return True
    if not (isinstance(func, Attr) and func.attr == "update" and isinstance(func.base, Call)):
        return False
    return func.base.func == Ref("builtin", "vars") and func.base.args[:1] == (Ref("local", receiver),)


class ConfigObjects:
    """What configuration objects hold, as key -> value with provenance."""

    def __init__(self, graph: ProgramGraph) -> None:
        self.resolver = graph.resolver
        self.index = graph.index
        self.receivers = graph.receivers
        self.calls_named = graph.calls_named
        self.origin = origin
        self.flask_sources: Dict[Obj, List[Tuple[str, Mapping]]] = {}
        self._find_flask_config()

    def is_flask(self, obj: Obj) -> bool:
        if not isinstance(obj, InstObj):
            return False
        if isinstance(obj.cls, str):
            return obj.cls in FLASK_CLASSES
        return self.resolver.reaches_external(obj.cls, FLASK_CLASSES)

    def _find_flask_config(self) -> None:
        methods = ("from_object", "from_mapping", "update", "setdefault") + tuple(FLASK_CONFIG_OPAQUE)
        for info, call in self.calls_named(*methods):
            func = call.value.func
            if not (isinstance(func, Ref) and func.path.endswith(".config." + func.last)):
                continue
            receiver = Ref(func.scope, func.path[: -len(".config." + func.last)])
            place = (info.name, call.scope)
            origin = self.origin(info, call.loc)
            for flask in self.receivers(info, call.scope, receiver):
                if not self.is_flask(flask):
                    continue
                mapping = self._flask_call_mapping(info, call, func.last, place, origin)
                self.flask_sources.setdefault(flask, []).append((f"{origin}", mapping))
        for info in self.index.modules():
            for store in info.facts.stores:
                target = store.target
                if not (isinstance(target, Sub) and isinstance(target.base, Ref) and target.base.path.endswith(".config")):
                    continue
                if not (isinstance(target.key, Const) and isinstance(target.key.value, str)):
                    continue
                receiver = Ref(target.base.scope, target.base.path[: -len(".config")])
                origin = self.origin(info, store.loc)
                entry = Entry(target.key.value, store.value, (info.name, store.scope), origin)
                for flask in self.receivers(info, store.scope, receiver):
                    if self.is_flask(flask):
                        self.flask_sources.setdefault(flask, []).append((str(origin), Mapping([entry])))

    def _flask_call_mapping(self, info: ModuleInfo, call: CallFact, method: str, place: Place, origin: Origin) -> Mapping:
        if method in FLASK_CONFIG_OPAQUE:
            return Mapping(opaque=[Opacity(f"Flask config.{method}() reads a file or the environment", place, origin)])
        mapping = Mapping()
        for argument in call.value.args[:1]:
            mapping.extend(self.mapping_for(info, call.scope, argument, place, origin))
        for key, value in call.value.kwargs:
            mapping.entries.append(Entry(key, value, place, origin))
        if call.value.has_star:
            mapping.opaque.append(Opacity("**kwargs", place, origin))
        if method in ("from_object", "from_mapping"):
            mapping.entries = [entry for entry in mapping.entries if entry.key.isupper()]
        return mapping

    def flask_mapping(self, flask: Obj) -> Mapping:
        mapping = Mapping()
        for _, item in self.flask_sources.get(flask, ()):
            mapping.extend(item)
        return _held_by(mapping, "flask")

    # --- mappings: what a config object contains ----------------------------------

    def mapping_for(self, info: ModuleInfo, scope: str, value: Value, place: Place, origin: Origin, depth: int = 0) -> Mapping:
        if depth > 6:
            return Mapping(opaque=[Opacity("configuration nested too deeply", place, origin)])
        if isinstance(value, Const) and isinstance(value.value, str):
            return self._mapping_from_string(info, value.value, place, origin)
        if isinstance(value, DictVal):
            return self._dict_mapping(value, place, origin, (info.name, scope))
        if isinstance(value, Call) and isinstance(value.func, Ref) and value.func.path == "dict" and value.func.scope == "builtin":
            mapping = Mapping([Entry(k, v, place, origin, (info.name, scope), container="dict") for k, v in value.kwargs])
            for argument in value.args:
                mapping.extend(self.mapping_for(info, scope, argument, place, origin, depth + 1))
            return mapping
        lookup = _as_lookup(value)
        if lookup is not None:
            return self._item_mapping(info, scope, lookup, place, origin, depth)
        attribute = _attribute(value)
        if attribute is not None:
            choices = self._choices(info, scope, attribute[0], place, origin, depth)
            if choices is not None:
                # `config[name].CELERY_CONFIG`: that attribute of each class the name may choose.
                found = [self._mapping_of_object(self.resolver.getattr(obj, attribute[1]), place, origin, depth + 1) for obj in choices]
                return self._agreement(found, place, origin)
        candidates = self.receivers(info, scope, value)
        if len(candidates) != 1:
            return Mapping(opaque=[Opacity("one of several objects", place, origin)])
        return self._mapping_of_object(candidates[0], place, origin, depth)

    def _item_mapping(self, info: ModuleInfo, scope: str, lookup: Sub, place: Place, origin: Origin, depth: int) -> Mapping:
        """``container[key]`` / ``container.get(key)``: the mapping of one item of a mapping."""
        container = self.mapping_for(info, scope, lookup.base, place, origin, depth + 1)
        if not (isinstance(lookup.key, Const) and isinstance(lookup.key.value, str)):
            return self._any_item_mapping(container, place, origin, depth)
        entry = container.get(lookup.key.value)
        if entry is not None and entry.note is not None:
            return Mapping(opaque=[Opacity(entry.note, place, entry.origin)])
        if entry is not None and entry.value is not None:
            entry_info = self.index.by_name.get(entry.value_ctx[0], info)
            return self.mapping_for(entry_info, entry.value_ctx[1], entry.value, place, entry.origin, depth + 1)
        if container.opaque or entry is not None:
            return Mapping(opaque=container.opaque or [Opacity("unknown value", place, origin)])
        return Mapping(opaque=[Opacity(f"key {lookup.key.value!r} not found", place, origin)])

    def _any_item_mapping(self, container: Mapping, place: Place, origin: Origin, depth: int) -> Mapping:
        """An item chosen at run time (``config[config_name]``): what every candidate agrees on."""
        if container.opaque or not container.entries:
            return Mapping(opaque=[Opacity("an item chosen at run time", place, origin)])
        candidates = []
        for entry in container.entries:
            entry_info = self.index.by_name.get(entry.value_ctx[0])
            if entry.value is None or entry.note is not None or entry_info is None:
                return Mapping(opaque=[Opacity("an item chosen at run time", place, origin)])
            candidates.append(self.mapping_for(entry_info, entry.value_ctx[1], entry.value, place, entry.origin, depth + 1))
        return self._agreement(candidates, place, origin)

    def _choices(self, info: ModuleInfo, scope: str, value: Value, place: Place, origin: Origin, depth: int) -> Optional[List[Obj]]:
        """The objects an item chosen at run time may be (`config[name]`, `config.get(name)`, or a
        name bound to one), each item of a known mapping; None when ``value`` is not such a choice."""
        if depth > 6:
            return None
        lookup = _as_lookup(value)
        if lookup is None:
            obj = self.resolver.resolve(Ctx(info, scope), value)
            owner = self.index.by_name.get(obj.module) if isinstance(obj, ValObj) and obj.value != value else None
            if owner is None or not isinstance(obj, ValObj):
                return None
            return self._choices(owner, obj.scope, obj.value, place, origin, depth + 1)
        if isinstance(lookup.key, Const):
            return None
        container = self.mapping_for(info, scope, lookup.base, place, origin, depth + 1)
        if container.opaque or not container.entries:
            return None
        choices = []
        for entry in container.entries:
            entry_info = self.index.by_name.get(entry.value_ctx[0])
            if entry.value is None or entry.note is not None or entry_info is None:
                return None
            choices.append(self.resolver.resolve(Ctx(entry_info, entry.value_ctx[1]), entry.value))
        return choices

    @staticmethod
    def _agreement(candidates: List[Mapping], place: Place, origin: Origin) -> Mapping:
        """What one of ``candidates``, chosen at run time, sets: a key all of them set is set (to
        their value when they agree on it); any other key any of them sets is unknown."""
        merged = Mapping(opaque=[item for candidate in candidates for item in candidate.opaque])
        keys = [{entry.key for entry in candidate.entries} for candidate in candidates]
        common = set.intersection(*keys)
        for entry in candidates[0].entries:
            if entry.key not in common:
                continue
            values = {_comparable(candidate.get(entry.key)) for candidate in candidates}
            if len(values) > 1 and entry is candidates[0].get(entry.key):
                entry = replace(entry, value=None, note=f"the run-time choices at {origin} set different values")
            merged.entries.append(entry)
        for key in sorted(set.union(*keys) - common):
            merged.opaque.append(Opacity(f"{key} is set by only some of the run-time choices", place, origin, key))
        return merged

    def _mapping_of_object(self, obj: Obj, place: Place, origin: Origin, depth: int) -> Mapping:
        if isinstance(obj, ModObj):
            return self.module_mapping(obj.name, place)
        if isinstance(obj, ClassObj):
            return self.class_mapping(obj, place)
        if isinstance(obj, InstObj) and isinstance(obj.cls, ClassObj):
            mapping = self.class_mapping(obj.cls, place)
            mapping.extend(self._instance_attributes(obj.cls, place))
            return mapping
        if isinstance(obj, AttrOf) and obj.path == "config" and self.is_flask(obj.base):
            return self.flask_mapping(obj.base)
        if isinstance(obj, ValObj):
            info = self.index.by_name.get(obj.module)
            if info is not None and not isinstance(obj.value, Ref):
                return self.mapping_for(info, obj.scope, obj.value, place, origin, depth + 1)
        return Mapping(opaque=[Opacity("an object celerylint cannot follow", place, origin)])

    def _dict_mapping(self, value: DictVal, place: Place, origin: Origin, ctx: Place) -> Mapping:
        mapping = Mapping()
        for key, item in value.items:
            if isinstance(key, Const) and isinstance(key.value, str):
                mapping.entries.append(Entry(key.value, item, place, origin, ctx, container="dict"))
            else:
                mapping.opaque.append(Opacity("a computed key", place, origin))
        if value.has_spread:
            mapping.opaque.append(Opacity("a ** spread", place, origin))
        return mapping

    def _mapping_from_string(self, info: ModuleInfo, text: str, place: Place, origin: Origin) -> Mapping:
        if text == "django.conf:settings":
            settings = self.django_settings_module(info)
            if settings is None:
                return Mapping(opaque=[Opacity("DJANGO_SETTINGS_MODULE is not set in the code", place, origin)])
            return _held_by(self.module_mapping(settings.name, place), "django")
        module, _, attr = text.partition(":")
        if attr:
            obj = self.resolver.resolve_dotted(f"{module}.{attr}", info)
        else:
            target = self.index.get(module, info)
            obj = ModObj(target.name) if target is not None else self.resolver.resolve_dotted(module, info)
        if isinstance(obj, (ExtObj, UnknownObj)):
            return Mapping(opaque=[Opacity(f"module {text!r} is not in the project", place, origin)])
        return self._mapping_of_object(obj, place, origin, 0)

    def module_mapping(self, name: str, place: Optional[Place] = None, seen: Optional[Set[str]] = None) -> Mapping:
        """A module's globals as config keys, applied at ``place`` (default: the module itself).

        A star import of a module the repository does not hold (`try: from .local_settings import *
        except ImportError: pass`, or a required one created at deploy time) may set any key: a key
        the repository does not set is unknown; one set before that import stays set but carries a
        note, its value may be overridden (Celery settings: value unknown; INSTALLED_APPS: what the
        repository lists, which the module may extend); one set after it is known (it wins)."""
        seen = seen if seen is not None else set()
        info = self.index.by_name.get(name)
        mapping = Mapping()
        if info is None or name in seen:
            return mapping
        seen.add(name)
        ctx = (name, MODULE_SCOPE)
        applied = place or ctx
        if info.broken:
            mapping.opaque.append(Opacity("the module does not parse", applied, Origin(info.rel, 1, 1)))
            return mapping
        lined: List[Tuple[int, Entry]] = []  # each entry with the line of this module that sets it
        overriders: List[Tuple[int, str]] = []  # star imports of absent modules: line, who may override
        for fact in info.facts.imports:
            if fact.scope != MODULE_SCOPE or "*" not in fact.names:
                continue
            star = self.index.absolute(info, fact.module)
            target = self.index.get(star, info) or self._sibling(info, star)
            if target is not None:
                starred = self.module_mapping(target.name, applied, seen)
                lined.extend((fact.line, entry) for entry in starred.entries)
                mapping.opaque.extend(starred.opaque)
                continue
            absent = self._absent_star_module(star, fact.optional)
            if absent is not None:
                where = Origin(info.rel, fact.line, 1)
                mapping.opaque.append(Opacity(f"may be set by {absent}", applied, where))
                overriders.append((fact.line, f"may be overridden by the star import at {where} of {absent}"))
        dynamic = self._dynamic_globals(info)
        if dynamic is not None:
            mapping.opaque.append(Opacity("module globals set at run time", applied, self.origin(info, dynamic)))
        for binding in info.facts.globals:
            lined.append((binding.loc.line, Entry(binding.name, binding.value, applied, self.origin(info, binding.loc), ctx, container="module")))
        for fact in info.facts.imports:
            if fact.scope == MODULE_SCOPE and fact.is_from:
                for bound in fact.bound:
                    if bound.isupper() or bound in ("broker_url", "result_backend"):
                        lined.append((fact.line, Entry(bound, None, applied, Origin(info.rel, fact.line, 1), ctx, container="module")))
        for line, entry in lined:
            later = [note for star_line, note in sorted(overriders) if star_line > line]
            mapping.entries.append(replace(entry, note=later[0]) if later else entry)
        return mapping

    def _sibling(self, info: ModuleInfo, name: str) -> Optional[ModuleInfo]:
        """`from settings_ldap import *` next to settings_ldap.py: Python 2's implicit relative
        import, or the package's folder on sys.path (cabot's settings)."""
        if name.startswith(".") or not info.package or name.split(".", 1)[0] in SETTINGLESS_PACKAGES:
            return None
        return self.index.by_name.get(f"{info.package}.{name}")

    def _absent_star_module(self, star: str, optional: bool) -> Optional[str]:
        """How to name a star-imported module the repository does not hold, when it may set
        settings: None for modules known to set none (the standard library, Celery, frameworks).

        Optional (`except ImportError`) or not, a project module that is absent is treated alike:
        without the `try` the import must succeed where the code runs, so the module is created
        there (generated, or copied in at deploy time, as mediacms's docker local_settings.py is).
        An installed package's module may define settings too (nautobot.core.settings)."""
        top = star.lstrip(".").split(".", 1)[0]
        if self._is_project_name(star) or star.startswith("."):
            if optional:
                return f"optional module {star}, absent from the repository"
            return f"module {star}, absent from the repository (a required import: it is created where this runs)"
        if top in SETTINGLESS_PACKAGES or top in getattr(sys, "stdlib_module_names", ()):
            return None
        return f"module {star}, which is not in the repository"

    def _is_project_name(self, dotted: str) -> bool:
        top = dotted.split(".", 1)[0]
        return any(name.split(".", 1)[0] == top for name in self.index.by_name)

    def _dynamic_globals(self, info: ModuleInfo) -> Optional[Loc]:
        """A top-level call that can write this module's globals: `X.load_settings(__name__)`,
        `globals().update(...)`, `vars()`, `exec(...)`. Its settings are then unknown."""
        for call in info.facts.calls:
            if call.scope != MODULE_SCOPE:
                continue
            func = call.value.func
            if isinstance(func, Ref) and func.scope == "builtin" and func.root in ("globals", "vars", "exec", "setattr"):
                return call.loc
            if isinstance(func, Attr) and isinstance(func.base, Call) and isinstance(func.base.func, Ref):
                if func.base.func.path in ("globals", "vars"):
                    return call.loc
            for argument in call.value.args:
                if argument == Ref("builtin", "__name__") or argument == Call(Ref("builtin", "globals")):
                    if not (isinstance(func, Ref) and func.last in ("Celery", "getLogger", "Blueprint", "Flask")):
                        return call.loc
        return None

    def class_mapping(self, cls: ClassObj, place: Optional[Place] = None) -> Mapping:
        """A class's attributes, bases first, as config keys applied at ``place``."""
        mapping = Mapping()
        chain = [obj for obj in self.resolver.mro(cls) if isinstance(obj, ClassObj)]
        for item in reversed(chain):
            fact = self.resolver.classes.get((item.module, item.qualname))
            info = self.index.by_name.get(item.module)
            if fact is None or info is None:
                continue
            ctx = (item.module, fact.scope)
            for binding in fact.attributes:
                entry = Entry(binding.name, binding.value, place or ctx, self.origin(info, binding.loc), ctx, container="class")
                mapping.entries.append(entry)
        return mapping

    def _instance_attributes(self, cls: ClassObj, place: Place) -> Mapping:
        """`self.X = ...` in the `__init__` that runs when ``cls`` is instantiated, and in the
        `__init__`s it reaches through `super().__init__()` / `Base.__init__(self)`: an
        instance's attributes, which win over the class's."""
        mapping = Mapping()
        chain = [obj for obj in self.resolver.mro(cls) if isinstance(obj, ClassObj)]
        runs: List[Tuple[ModuleInfo, FunctionFact]] = []
        for item in chain:
            function = self.resolver.functions.get((item.module, f"{item.qualname}.__init__"))
            info = self.index.by_name.get(item.module)
            if function is None or info is None:
                continue
            runs.append((info, function))
            if not any(_calls_init(call) for call in info.facts.calls if call.scope == function.qualname):
                break
        for info, function in reversed(runs):  # the base's __init__ runs first, from super().__init__()
            if not function.params:
                continue
            prefix = function.params[0].name + "."
            for store in info.facts.stores:
                target = store.target
                if store.scope != function.qualname or not isinstance(target, Ref) or target.scope != "local":
                    continue
                if target.path.startswith(prefix) and "." not in target.path[len(prefix):]:
                    key = target.path[len(prefix):]
                    mapping.entries.append(Entry(key, store.value, place, self.origin(info, store.loc), (info.name, function.qualname)))
            for call in info.facts.calls:
                if call.scope == function.qualname and _sets_attributes(call.value, function.params[0].name):
                    why = f"attributes set at run time in {function.qualname}"
                    mapping.opaque.append(Opacity(why, place, self.origin(info, call.loc)))
        return mapping

    def django_settings_module(self, near: Optional[ModuleInfo] = None) -> Optional[ModuleInfo]:
        """The module DJANGO_SETTINGS_MODULE names, preferring a setdefault in ``near``."""
        calls = sorted(self.calls_named("setdefault"), key=lambda item: item[0] is not near)
        for info, call in calls:
            func = call.value.func
            if not (isinstance(func, Ref) and func.path.endswith("environ.setdefault")):
                continue
            args = call.value.args
            if len(args) == 2 and args[0] == Const("DJANGO_SETTINGS_MODULE"):
                if isinstance(args[1], Const) and isinstance(args[1].value, str):
                    return self.index.get(args[1].value, info)
        return None
