"""What a project changes in kombu's serializers: serializers it registers under a name
(`kombu.serialization.register("json", ...)` replaces the built-in one) and types it teaches
kombu's JSON encoder (`kombu.utils.json.register_type(Money, "money", str, Money)`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Iterable

from celerylint.facts.types import Const
from celerylint.model.graph import ProgramGraph
from celerylint.model.resolve import ClassObj, ExtObj, Obj

REGISTER_SERIALIZER = frozenset({"kombu.serialization.register", "kombu.serialization.registry.register"})
REGISTER_JSON_TYPE = frozenset({"kombu.utils.json.register_type"})


@dataclass(frozen=True)
class SerializerChanges:
    # Serializer names the project registers its own encoder under; "*" when a name is not known.
    registered: FrozenSet[str] = frozenset()
    # Types (project classes, external dotted names) kombu's JSON encoder is taught to encode.
    json_types: FrozenSet[Obj] = frozenset()
    # A register_type() whose type cannot be resolved: any value may be encodable.
    json_types_unknown: bool = False

    def replaces(self, serializer: str) -> bool:
        """The project registers its own encoder under this name (or under a name not known)."""
        return serializer in self.registered or "*" in self.registered

    def json_may_encode(self, types: Iterable[Obj]) -> bool:
        """A register_type() covers one of these types (a class and its bases), or one whose
        type is not known may."""
        return self.json_types_unknown or any(item in self.json_types for item in types)


def find_serializer_changes(graph: ProgramGraph) -> SerializerChanges:
    registered = set()
    json_types = set()
    unknown = False
    for info, call in graph.calls_named("register", "register_type"):
        func = graph.resolve(info, call.scope, call.value.func)
        if not isinstance(func, ExtObj):
            continue
        first = call.value.args[0] if call.value.args else call.value.kwarg("name" if func.path in REGISTER_SERIALIZER else "t")
        if func.path in REGISTER_SERIALIZER:
            name = first.value if isinstance(first, Const) and isinstance(first.value, str) else "*"
            registered.add(name)
        elif func.path in REGISTER_JSON_TYPE:
            target = graph.resolve(info, call.scope, first) if first is not None else None
            if isinstance(target, (ClassObj, ExtObj)):
                json_types.add(target)
            else:
                unknown = True
    return SerializerChanges(frozenset(registered), frozenset(json_types), unknown)
