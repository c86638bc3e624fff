"""Phase 1 of the model: the project's modules as a program: calls by name, what a value may be
(following function parameters to their call sites), and who imports whom."""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from celerylint.facts.types import Attr, Call, CallFact, FunctionFact, Loc, Ref, Value
from celerylint.model.app_config import Origin
from celerylint.model.modules import ModuleIndex, ModuleInfo
from celerylint.model.resolve import UNKNOWN, Ctx, FuncObj, Obj, ParamObj, Resolver

# How far parameter flow is followed: f(x) -> g(x) -> h(x) -> ...
MAX_PARAMETER_HOPS = 3


def origin(info: ModuleInfo, loc: Loc) -> Origin:
    return Origin(info.rel, loc.line, loc.col)


def transitive(starts: Set[str], step: Callable[[str], Iterable[str]]) -> Set[str]:
    """Everything reachable from ``starts`` by ``step``, the starts included."""
    seen = set(starts)
    todo = list(starts)
    while todo:
        for name in step(todo.pop()):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


class ProgramGraph:
    def __init__(self, index: ModuleIndex, resolver: Resolver) -> None:
        self.index = index
        self.resolver = resolver
        self._calls_by_name = self._index_calls()
        self._imported: Dict[Tuple[str, Optional[str]], Set[str]] = {}
        self._with_parents: Dict[Tuple[str, str], List[str]] = {}
        self._importers: Optional[Dict[str, Set[str]]] = None
        self._calls_by_scope: Dict[str, Dict[str, List[CallFact]]] = {}
        self._signal_receivers: Optional[List[Tuple[ModuleInfo, FunctionFact, Ref]]] = None

    # --- calls and values -----------------------------------------------------------------

    def _index_calls(self) -> Dict[str, List[Tuple[ModuleInfo, CallFact]]]:
        result: Dict[str, List[Tuple[ModuleInfo, CallFact]]] = {}
        for info in self.index.modules():
            for call in info.facts.calls:
                func = call.value.func
                if isinstance(func, Ref):
                    path = func.path  # func.last, inline: this sees every call of the project
                    name = path[path.rfind(".") + 1 :]
                elif isinstance(func, Attr):
                    name = func.attr
                else:
                    continue
                found = result.get(name)
                if found is None:
                    result[name] = [(info, call)]
                else:
                    found.append((info, call))
        return result

    def calls_named(self, *names: str) -> Iterable[Tuple[ModuleInfo, CallFact]]:
        """Every call whose function's last name is one of ``names`` (`x.update(...)`: "update")."""
        for name in names:
            yield from self._calls_by_name.get(name, ())

    def calls_in(self, info: ModuleInfo, scope: str) -> Iterable[CallFact]:
        """The module's calls written in ``scope``, in source order."""
        by_scope = self._calls_by_scope.get(info.rel)  # by file: two roots may give one name
        if by_scope is None:
            by_scope = self._calls_by_scope[info.rel] = {}
            for call in info.facts.calls:
                by_scope.setdefault(call.scope, []).append(call)
        return by_scope.get(scope, ())

    def resolve(self, info: ModuleInfo, scope: str, value: Value) -> Obj:
        return self.resolver.resolve(Ctx(info, scope), value)

    def receivers(self, info: ModuleInfo, scope: str, value: Value, depth: int = 0) -> List[Obj]:
        """What ``value`` may be, following function parameters to their call sites."""
        obj = self.resolve(info, scope, value)
        if depth > MAX_PARAMETER_HOPS:
            return [obj]
        if isinstance(obj, ParamObj):
            return self._param_values(obj, depth)
        if isinstance(value, Ref) and value.scope == "local" and "." in value.path:
            root, _, rest = value.path.partition(".")
            base = self.resolve(info, scope, Ref("local", root))
            if isinstance(base, ParamObj):
                results = []
                for candidate in self._param_values(base, depth):
                    for attr in rest.split("."):
                        candidate = self.resolver.getattr(candidate, attr)
                    results.append(candidate)
                return results
        return [obj]

    def _param_values(self, param: ParamObj, depth: int) -> List[Obj]:
        function = self.resolver.functions.get((param.module, param.function))
        if function is None:
            return [UNKNOWN]
        position = next((i for i, p in enumerate(function.params) if p.name == param.name), -1)
        target = FuncObj(param.module, param.function)
        # A function assigned onto a class (`Celery.init_app = init_app`) is called as a method:
        # its first parameter is the receiver.
        bound = bool(function.class_qualname) or self.resolver.is_assigned_method(target)
        if bound:
            position -= 1
        found: List[Obj] = []
        for info, call in self.calls_named(*{function.name, *self._assigned_names(target)}):
            func = call.value.func
            if self.resolve(info, call.scope, func) != target:
                continue
            argument = call.value.kwarg(param.name)
            if argument is None and 0 <= position < len(call.value.args):
                argument = call.value.args[position]
            elif argument is None and position == -1 and not function.class_qualname and isinstance(func, Ref) and "." in func.path:
                argument = Ref(func.scope, func.path.rpartition(".")[0])
            if argument is not None:
                found.extend(self.receivers(info, call.scope, argument, depth + 1))
        return found or [UNKNOWN]

    def _assigned_names(self, function: FuncObj) -> List[str]:
        """The attribute names a function is assigned onto a class under (`Celery.init_app = ...`)."""
        return [attr for (_, attr) in self.resolver.class_stores()] if self.resolver.is_assigned_method(function) else []

    def local_value(self, info: ModuleInfo, scope: str, name: str) -> Optional[Value]:
        """The last value bound to a local name in a function, if any."""
        function = self.resolver.functions.get((info.name, scope))
        if function is None:
            return None
        for binding in reversed(function.locals):
            if binding.name == name:
                return binding.value
        return None

    # --- imports ---------------------------------------------------------------------------

    def imported_modules(self, info: ModuleInfo, scope: Optional[str]) -> Set[str]:
        """Project modules an import statement in ``scope`` (None: any scope) brings in."""
        key = (info.name, scope)
        cached = self._imported.get(key)
        if cached is None:
            cached = self._imported[key] = self._compute_imported(info, scope)
        return cached

    def _compute_imported(self, info: ModuleInfo, scope: Optional[str]) -> Set[str]:
        result: Set[str] = set()
        get = self.index.get
        for fact in info.facts.imports:
            if scope is not None and fact.scope != scope:
                continue
            module = fact.module
            base = module if module[:1] != "." else self.index.absolute(info, module)
            result.update(self.with_parents(base, info))
            if fact.is_from:
                prefix = f"{base}." if base else ""
                for name in fact.names:
                    sub = get(prefix + name, info)
                    if sub is not None:
                        result.add(sub.name)
        return result

    def signal_receivers(self) -> List[Tuple[ModuleInfo, FunctionFact, Ref]]:
        """Functions decorated `@signal.connect` / `@signal.connect_via(...)`, with the signal as
        written; found once for every worker's closure."""
        if self._signal_receivers is None:
            found = []
            for info in self.index.modules():
                for function in info.facts.functions:
                    for decorator, _ in function.decorators:
                        target = decorator.func if isinstance(decorator, Call) else decorator
                        if isinstance(target, Ref) and target.last in ("connect", "connect_via"):
                            found.append((info, function, Ref(target.scope, target.path.rpartition(".")[0])))
            self._signal_receivers = found
        return self._signal_receivers

    def imports_of(self, name: str) -> Set[str]:
        info = self.index.by_name.get(name)
        return self.imported_modules(info, None) if info is not None else set()

    def importers(self) -> Dict[str, Set[str]]:
        """Module -> the other project modules that import it (any scope)."""
        if self._importers is None:
            result: Dict[str, Set[str]] = {}
            for info in self.index.modules():
                for target in self.imported_modules(info, None):
                    if target != info.name:
                        result.setdefault(target, set()).add(info.name)
            self._importers = result
        return self._importers

    def imported_by_non_test_code(self, name: str) -> bool:
        modules = self.index.by_name
        return any(not modules[other].is_test for other in self.importers().get(name, ()) if other in modules)

    def with_parents(self, dotted: str, near: ModuleInfo) -> List[str]:
        """The project modules importing ``dotted`` runs: each package on the way, then it."""
        key = (dotted, near.root_key)  # `get` depends on the importer only through its root
        found = self._with_parents.get(key)
        if found is None:
            parts = dotted.split(".")
            found = []
            for cut in range(1, len(parts) + 1):
                target = self.index.get(".".join(parts[:cut]), near)
                if target is not None:
                    found.append(target.name)
            self._with_parents[key] = found
        return found
