"""What a configuration object contains: Flask `app.config`, settings modules and classes,
dicts, Django settings; each key with where it is applied and where it is written.

Whatever cannot be followed becomes an Opacity: the keys are unknown, never missing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Set, Tuple

from celerylint.facts.types import MODULE_SCOPE, Attr, Call, CallFact, Const, DictVal, Loc, Ref, Sub, Value
from celerylint.model.app_config import Entry, Mapping, Opacity, Origin, Place
from celerylint.model.graph import ProgramGraph, origin
from celerylint.model.modules import ModuleInfo
from celerylint.model.resolve import AttrOf, ClassObj, ExtObj, InstObj, ModObj, Obj, UnknownObj, ValObj

FLASK_CLASSES = frozenset({"flask.Flask", "flask.app.Flask"})
FLASK_CONFIG_OPAQUE = frozenset({"from_pyfile", "from_envvar", "from_prefixed_env", "from_file"})


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
        return self.resolver.reaches(obj.cls, lambda base: isinstance(base, ExtObj) and base.path in FLASK_CLASSES)

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
            mapping = Mapping([Entry(k, v, place, origin, (info.name, scope), "dict") for k, v in value.kwargs])
            for argument in value.args:
                mapping.extend(self.mapping_for(info, scope, argument, place, origin, depth + 1))
            return mapping
        lookup = _as_lookup(value)
        if lookup is not None:
            return self._item_mapping(info, scope, lookup, place, origin, depth)
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
            if entry.value is None or entry_info is None:
                return Mapping(opaque=[Opacity("an item chosen at run time", place, origin)])
            candidates.append(self.mapping_for(entry_info, entry.value_ctx[1], entry.value, place, entry.origin, depth + 1))
        merged = Mapping(opaque=[item for candidate in candidates for item in candidate.opaque])
        keys = [{entry.key for entry in candidate.entries} for candidate in candidates]
        common = set.intersection(*keys)
        for entry in candidates[0].entries:
            if entry.key in common:
                merged.entries.append(entry)
        for key in sorted(set.union(*keys) - common):
            merged.opaque.append(Opacity(f"{key} is set by only some of the run-time choices", place, origin, key))
        return merged

    def _mapping_of_object(self, obj: Obj, place: Place, origin: Origin, depth: int) -> Mapping:
        if isinstance(obj, ModObj):
            return self.module_mapping(obj.name, place)
        if isinstance(obj, ClassObj) or (isinstance(obj, InstObj) and isinstance(obj.cls, ClassObj)):
            cls = obj if isinstance(obj, ClassObj) else obj.cls
            assert isinstance(cls, ClassObj)
            return self.class_mapping(cls, place)
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
                mapping.entries.append(Entry(key.value, item, place, origin, ctx, "dict"))
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
        """A module's globals as config keys, applied at ``place`` (default: the module itself)."""
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
        for star in self.resolver.star_imports.get(name, ()):
            target = self.index.get(star, info)
            if target is not None:
                mapping.extend(self.module_mapping(target.name, applied, seen))
            elif self._is_project_name(star):  # e.g. `from .local_settings import *`, not committed
                mapping.opaque.append(Opacity(f"star import of {star}, which is not in the project", applied, Origin(info.rel, 1, 1)))
        dynamic = self._dynamic_globals(info)
        if dynamic is not None:
            mapping.opaque.append(Opacity("module globals set at run time", applied, self.origin(info, dynamic)))
        for binding in info.facts.globals:
            mapping.entries.append(Entry(binding.name, binding.value, applied, self.origin(info, binding.loc), ctx, "module"))
        for fact in info.facts.imports:
            if fact.scope == MODULE_SCOPE and fact.is_from:
                for bound in fact.bound:
                    if bound.isupper() or bound in ("broker_url", "result_backend"):
                        mapping.entries.append(Entry(bound, None, applied, Origin(info.rel, fact.line, 1), ctx, "module"))
        return mapping

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
                entry = Entry(binding.name, binding.value, place or ctx, self.origin(info, binding.loc), ctx, "class")
                mapping.entries.append(entry)
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
