"""What the libcst and the `ast` extractions share: which calls matter, and the scope frames."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple, cast

from celerylint.facts.types import (
    MAIN_SCOPE,
    MODULE_SCOPE,
    Binding,
    Call,
    CallFact,
    ClassFact,
    Const,
    FunctionFact,
    ImportFact,
    ModuleFacts,
    Ref,
    StoreFact,
    UseFact,
    Value,
)
from celerylint.facts.names import names_read

BUILTIN_NAMES = frozenset(dir(builtins))
# Constant types whose equal values are interchangeable (see Scopes.intern).
SHARED_CONSTANTS = (str, bytes, int, bool, type(None))
TASK_CALL_METHODS = frozenset({"delay", "apply_async", "s", "si", "signature"})
CONFIG_CALLS = frozenset({"update", "setdefault", "Celery"})  # calls whose keywords may be settings
CONTEXT_METHODS = frozenset({"app_context", "test_request_context", "request_context"})
REQUEST_CONTEXT_METHODS = frozenset({"test_request_context", "request_context"})
# Calls that import a module named by their first argument.
IMPORTING_CALLS = frozenset(
    {
        "importlib.import_module",
        "__import__",
        "werkzeug.utils.import_string",
        "werkzeug.import_string",
        "django.utils.module_loading.import_string",
        "kombu.utils.imports.symbol_by_name",
        "celery.utils.imports.symbol_by_name",
    }
)
DYNAMIC_IMPORTERS = frozenset(
    {"pkgutil.walk_packages", "pkgutil.iter_modules", "werkzeug.utils.find_modules", "werkzeug.find_modules"}
)

# Deeper expressions are not worth following, and following them risks the recursion limit.
MAX_VALUE_DEPTH = 40


def join(module: str, name: str) -> str:
    if not module or module.endswith("."):
        return module + name
    return module + "." + name


@dataclass
class Frame:
    kind: str  # "module" | "class" | "function"
    qualname: str
    bound: Set[str]
    imports: Dict[str, str]
    globals_declared: Set[str] = field(default_factory=set)
    contexts: List[Value] = field(default_factory=list)
    managers: List[Value] = field(default_factory=list)
    returns: List[Value] = field(default_factory=list)
    locals: List[Binding] = field(default_factory=list)
    attributes: List[Binding] = field(default_factory=list)
    methods: List[str] = field(default_factory=list)
    branches: int = 0  # enclosing if/loop/except blocks of this frame


class Scopes:
    """Scope tracking and name qualification, the same for the libcst and the `ast` traversals:
    the frames of the enclosing module, classes and functions, pyflakes-style."""

    frames: List[Frame]
    main_block: bool
    imports: List[ImportFact]
    dynamic_scopes: Set[str]
    globals: List[Binding]
    interned: Dict[object, Value]
    functions: List[FunctionFact]
    classes: List[ClassFact]
    calls: List[CallFact]
    stores: List[StoreFact]
    uses: Dict[Tuple[str, str, Tuple[Value, ...], bool], UseFact]
    annotations: List[Binding]

    def facts(self) -> ModuleFacts:
        values: List[Value] = [call.value for call in self.calls]
        values.extend(binding.value for binding in self.globals)
        values.extend(store.value for store in self.stores)
        values.extend(binding.value for cls in self.classes for binding in cls.attributes)
        for function in self.functions:
            values.extend(function.returns)
            values.extend(binding.value for binding in function.locals)
        return ModuleFacts(
            imports=tuple(self.imports),
            globals=tuple(self.globals),
            functions=tuple(self.functions),
            classes=tuple(self.classes),
            calls=tuple(self.calls),
            stores=tuple(self.stores),
            uses=tuple(sorted(self.uses.values(), key=lambda use: (use.loc.line, use.loc.col))),
            dynamic_import_scopes=tuple(sorted(self.dynamic_scopes)),
            detailed=True,
            annotations=tuple(self.annotations),
            names_read=names_read(values),
        )

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    @property
    def scope(self) -> str:
        if self.main_block and self.frame.kind != "function":
            return MAIN_SCOPE
        for frame in reversed(self.frames):
            if frame.kind == "function":
                return frame.qualname
        return MODULE_SCOPE

    def _function_frame(self) -> Optional[Frame]:
        for frame in reversed(self.frames):
            if frame.kind == "function":
                return frame
        return None

    def intern(self, value: Value) -> Value:
        """One object for equal leaf values of a file: a name is read many times, and facts are
        kept for every file of the project (memory) and loaded on every run (time). Constants are
        told apart by type, since Const(1) == Const(True) == Const(1.0); floats are never shared
        (0.0 == -0.0)."""
        if isinstance(value, Const):
            if type(value.value) not in SHARED_CONSTANTS:
                return value
            return self.interned.setdefault((Const, type(value.value), value.value), value)
        return self.interned.setdefault(value, value)

    def qualify(self, dotted: str) -> Ref:
        ref = self._qualify(dotted)
        return cast(Ref, self.interned.setdefault(ref, ref))

    def _qualify(self, dotted: str) -> Ref:
        root, _, rest = dotted.partition(".")
        for frame in reversed(self.frames[1:]):
            if frame.kind != "function":
                continue
            if root in frame.imports:
                return Ref("import", join(frame.imports[root], rest) if rest else frame.imports[root])
            if root in frame.globals_declared:
                break
            if root in frame.bound:
                return Ref("local", dotted)
        module = self.frames[0]
        if root in module.imports:
            target = module.imports[root]
            return Ref("import", join(target, rest) if rest else target)
        if root in module.bound:
            return Ref("global", dotted)
        return Ref("builtin", dotted)

    def _qualname(self, name: str) -> str:
        outer = self.frame.qualname
        return f"{outer}.{name}" if outer else name

    def _function_frames(self) -> List[Frame]:
        """The frames since the innermost function: the `with` blocks that enclose a statement."""
        start = 0
        for index, frame in enumerate(self.frames):
            if frame.kind == "function":
                start = index
        return self.frames[start:]

    def _contexts(self) -> Tuple[Value, ...]:
        """Context receivers of enclosing `with` blocks since the innermost function."""
        return tuple(context for frame in self._function_frames() for context in frame.contexts)

    def _managers(self) -> Tuple[Value, ...]:
        return tuple(manager for frame in self._function_frames() for manager in frame.managers)

    def _importing_call(self, path: str, call: Call) -> None:
        if path in DYNAMIC_IMPORTERS:
            self.dynamic_scopes.add(self.scope)
        if path not in IMPORTING_CALLS:
            return
        first = call.args[0] if call.args else None
        if isinstance(first, Const) and isinstance(first.value, str):
            module = first.value.split(":", 1)[0]
            self.imports.append(ImportFact(module, (), self.scope, 0, False))
        else:
            self.dynamic_scopes.add(self.scope)
