"""What a name or expression refers to, across the project's modules.

Resolution is deliberately shallow: it follows imports, module globals, class
attributes and bases, function return values and parameters' defaults. What it
cannot follow is UNKNOWN, and rules stay silent on UNKNOWN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Iterator, List, NamedTuple, Optional, Set, Tuple, Union

from celerylint.facts.types import (
    MODULE_SCOPE,
    Binding,
    Call,
    CallFact,
    Const,
    ClassFact,
    FunctionFact,
    ImportFact,
    Ref,
    Value,
    tagged_repr,
)
from celerylint.model.modules import ModuleIndex, ModuleInfo

CELERY_CLASSES = frozenset({"celery.Celery", "celery.app.Celery", "celery.app.base.Celery"})
# Apps that extensions create: a holder class whose attribute is the app, and factories.
EXTENSION_APP_HOLDERS = {"flask_celeryext.FlaskCeleryExt": "celery", "flask_celeryext.ext.FlaskCeleryExt": "celery"}
EXTENSION_APP_FACTORIES = frozenset({"flask_celeryext.create_celery_app", "flask_celeryext.app.create_celery_app"})
# Objects that stand for what a function returns, built on first use: `Proxy(get_app)`.
LAZY_PROXIES = frozenset(
    {
        "celery.local.Proxy",
        "celery.local.PromiseProxy",
        "celery.utils.objects.Proxy",
        "werkzeug.local.LocalProxy",
        "werkzeug.LocalProxy",
    }
)
# Decorators that make a method an attribute computed on each read.
PROPERTIES = frozenset(
    {"builtins.property", "functools.cached_property", "werkzeug.utils.cached_property", "django.utils.functional.cached_property"}
)
# Annotations that wrap the type they name: `Optional[Celery]`, `Union[Celery, None]`.
TYPE_WRAPPERS = frozenset(
    {"typing.Optional", "typing.Union", "typing_extensions.Optional", "typing.Final", "typing.ClassVar", "typing_extensions.Final"}
)
MAX_DEPTH = 25


class ModObj(NamedTuple):
    name: str
    tag: str = "ModObj"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


class FuncObj(NamedTuple):
    module: str
    qualname: str
    tag: str = "FuncObj"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


class ClassObj(NamedTuple):
    module: str
    qualname: str
    tag: str = "ClassObj"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


class AppObj(NamedTuple):
    """A Celery app, identified by the call that creates it."""

    module: str
    scope: str
    line: int
    col: int
    tag: str = "AppObj"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


class AppClassObj(NamedTuple):
    """``self`` inside a Celery subclass: every app of that class."""

    cls: ClassObj
    tag: str = "AppClassObj"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


class InstObj(NamedTuple):
    """An instance of a project class (ClassObj) or of an external class (dotted name)."""

    cls: Union[ClassObj, str]
    origin: Tuple[str, str, int] = ("", "", 0)  # (module, scope, line) of the creating call
    tag: str = "InstObj"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


class ExtObj(NamedTuple):
    path: str
    tag: str = "ExtObj"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


class AttrOf(NamedTuple):
    base: "Obj"
    path: str
    tag: str = "AttrOf"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


class ValObj(NamedTuple):
    """A literal-ish value, to be evaluated where it was written."""

    module: str
    scope: str
    value: Value
    tag: str = "ValObj"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


class ParamObj(NamedTuple):
    module: str
    function: str
    name: str
    tag: str = "ParamObj"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


class UnknownObj(NamedTuple):
    why: str = ""
    tag: str = "UnknownObj"  # objects of two kinds with equal fields differ

    def __repr__(self) -> str:
        return tagged_repr(self)


UNKNOWN = UnknownObj()
Obj = Union[ModObj, FuncObj, ClassObj, AppObj, AppClassObj, InstObj, ExtObj, AttrOf, ValObj, ParamObj, UnknownObj]


@dataclass(frozen=True)
class Ctx:
    module: ModuleInfo
    scope: str


class Resolver:
    def __init__(self, index: ModuleIndex) -> None:
        self.index = index
        self.functions: Dict[Tuple[str, str], FunctionFact] = {}
        self.classes: Dict[Tuple[str, str], ClassFact] = {}
        self.globals: Dict[str, Dict[str, Binding]] = {}
        self.module_imports: Dict[str, Dict[str, ImportFact]] = {}
        self.star_imports: Dict[str, List[str]] = {}
        # Each module's calls by (scope, value), made for the modules that create an app.
        self._calls_by_value: Dict[str, Dict[Tuple[str, Call], CallFact]] = {}
        self._cache: Dict[Tuple[str, str, Value], Obj] = {}
        self._getters: Dict[Tuple[str, str, Value], List[FuncObj]] = {}
        self._busy: Set[Tuple[str, str, Value]] = set()
        self._bases: Dict[ClassObj, List[Obj]] = {}
        self._reaches: Dict[Tuple[FrozenSet[str], ClassObj], bool] = {}
        self.app_classes: Set[ClassObj] = set()
        # Filled by the project model once apps are known: the class each app is made from.
        self.app_class_of: Dict[AppObj, ClassObj] = {}
        # The Task class an app uses (`task_cls=`, `app.Task = X`), where it is written.
        self.app_task_class: Dict[AppObj, Tuple[ModuleInfo, str, Value]] = {}
        self.annotations: Dict[str, Dict[str, Binding]] = {}
        # `self.x = v` in a method of a project class: class -> attribute -> (module, method, value), last first.
        self.instance_attrs: Dict[ClassObj, Dict[str, List[Tuple[str, str, Value]]]] = {}
        # `Cls.name = value` at module level, by the dotted name of what Cls names: found on first use.
        self._class_stores: Optional[Dict[Tuple[str, str], Tuple[ModuleInfo, str, Value]]] = None
        for info in index.modules():
            self._index_module(info)

    def _index_module(self, info: ModuleInfo) -> None:
        facts = info.facts
        for function in facts.functions:
            self.functions[(info.name, function.qualname)] = function
        for cls in facts.classes:
            self.classes[(info.name, cls.qualname)] = cls
        self.globals[info.name] = {binding.name: binding for binding in facts.globals}
        aliases: Dict[str, ImportFact] = {}
        stars: List[str] = []
        for fact in facts.imports:
            if fact.scope != MODULE_SCOPE:
                continue
            if "*" in fact.names:
                stars.append(self.index.absolute(info, fact.module))
            for bound in fact.bound:
                aliases[bound] = fact
        self.module_imports[info.name] = aliases
        self.star_imports[info.name] = stars
        self.annotations[info.name] = {binding.name: binding for binding in facts.annotations}
        for store in facts.stores:
            self._index_instance_store(info, store.target, store.scope, store.value)

    def _index_instance_store(self, info: ModuleInfo, target: Value, scope: str, value: Value) -> None:
        """`self.x = v` in a method: an attribute every instance of the class gets."""
        if not (isinstance(target, Ref) and target.scope == "local" and target.path.count(".") == 1):
            return
        function = self.functions.get((info.name, scope))
        if function is None or function.class_qualname is None or not function.params:
            return
        first = function.params[0]
        holder, _, attr = target.path.partition(".")
        if first.name != holder or first.kind not in ("pos", "posonly"):
            return
        cls = ClassObj(info.name, function.class_qualname)
        self.instance_attrs.setdefault(cls, {}).setdefault(attr, []).insert(0, (info.name, scope, value))

    def call_fact(self, info: ModuleInfo, scope: str, call: Call) -> Optional[CallFact]:
        """The first call written as ``call`` in ``scope`` of the module (where an app is made)."""
        calls = self._calls_by_value.get(info.rel)  # by file: two roots may give one name
        if calls is None:
            calls = self._calls_by_value[info.rel] = {}
            for fact in info.facts.calls:
                calls.setdefault((fact.scope, fact.value), fact)
        return calls.get((scope, call))

    def module(self, name: str) -> Optional[ModuleInfo]:
        return self.index.by_name.get(name)

    # --- entry points -------------------------------------------------------

    def resolve(self, ctx: Ctx, value: Value, depth: int = 0) -> Obj:
        if depth > MAX_DEPTH:
            return UNKNOWN
        key = (ctx.module.name, ctx.scope, value)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if key in self._busy:
            return UNKNOWN
        self._busy.add(key)
        try:
            result = self._resolve(ctx, value, depth + 1)
        finally:
            self._busy.discard(key)
        self._cache[key] = result
        return result

    def _resolve(self, ctx: Ctx, value: Value, depth: int) -> Obj:
        if isinstance(value, Ref):
            return self._ref(ctx, value, depth)
        if isinstance(value, Call):
            return self._call(ctx, value, depth)
        from celerylint.facts.types import Attr

        if isinstance(value, Attr):
            return self.getattr(self.resolve(ctx, value.base, depth), value.attr, depth)
        return ValObj(ctx.module.name, ctx.scope, value)

    def resolve_dotted(self, dotted: str, near: Optional[ModuleInfo] = None, depth: int = 0) -> Obj:
        info, rest = self.index.longest_module_prefix(dotted, near)
        if info is None:
            return ExtObj(dotted)
        obj: Obj = ModObj(info.name)
        for attr in rest:
            obj = self.getattr(obj, attr, depth + 1)
        return obj

    # --- names ----------------------------------------------------------------

    def _ref(self, ctx: Ctx, ref: Ref, depth: int) -> Obj:
        if ref.scope == "import":
            return self.resolve_dotted(self.index.absolute(ctx.module, ref.path), ctx.module, depth)
        if ref.scope == "builtin":
            return self._unbound(ctx, ref, depth)
        root, _, rest = ref.path.partition(".")
        if ref.scope == "global":
            obj = self.module_attr(ctx.module.name, root, depth)
        else:
            obj = self._local(ctx, root, depth)
        for attr in rest.split(".") if rest else ():
            obj = self.getattr(obj, attr, depth)
        return obj

    def _unbound(self, ctx: Ctx, ref: Ref, depth: int) -> Obj:
        """A name bound nowhere in its file: a builtin, or one of a star import's names."""
        root, _, rest = ref.path.partition(".")
        for star in self.star_imports.get(ctx.module.name, ()):
            star_info = self.index.get(star, ctx.module)
            if star_info is None:
                continue
            obj = self.module_attr(star_info.name, root, depth + 1)
            if not isinstance(obj, UnknownObj):
                for attr in rest.split(".") if rest else ():
                    obj = self.getattr(obj, attr, depth)
                return obj
        return ExtObj("builtins." + ref.path)

    def _local(self, ctx: Ctx, name: str, depth: int) -> Obj:
        scope = ctx.scope
        while scope:
            function = self.functions.get((ctx.module.name, scope))
            if function is not None:
                found = self._in_function(ctx.module, function, name, depth)
                if found is not None:
                    return found
            scope = scope.rpartition(".")[0]
        return UNKNOWN

    def _in_function(self, module: ModuleInfo, function: FunctionFact, name: str, depth: int) -> Optional[Obj]:
        nested = f"{function.qualname}.{name}"
        if (module.name, nested) in self.classes:
            return ClassObj(module.name, nested)
        if (module.name, nested) in self.functions:
            return FuncObj(module.name, nested)
        for binding in reversed(function.locals):
            if binding.name == name:
                return self.resolve(Ctx(module, function.qualname), binding.value, depth)
        for param in function.params:
            if param.name != name:
                continue
            if function.class_qualname and param is function.params[0] and param.kind in ("pos", "posonly"):
                cls = ClassObj(module.name, function.class_qualname)
                if cls in self.app_classes:
                    return AppClassObj(cls)
                return InstObj(cls)
            return ParamObj(module.name, function.qualname, name)
        return None

    def module_attr(self, module: str, name: str, depth: int = 0) -> Obj:
        found = self._module_attr(module, name, depth)
        if isinstance(found, (AppObj, AppClassObj)):
            return found
        hinted = self.annotated_app(module, name, depth)
        return hinted if hinted is not None else found

    def annotated_app(self, module: str, name: str, depth: int = 0) -> Optional[AppObj]:
        """The app a global annotated as a Celery app stands for (`app: Celery`), identified by the
        annotation: what its value is may not be known, but it is an app."""
        annotation = self.annotations.get(module, {}).get(name)
        info = self.module(module)
        if annotation is None or info is None:
            return None
        if not any(self.is_celery_class(obj) for obj in self._annotated_types(Ctx(info, annotation.scope), annotation.value, depth)):
            return None
        return AppObj(module, annotation.scope, annotation.loc.line, annotation.loc.col)

    def _annotated_types(self, ctx: Ctx, value: Value, depth: int) -> List[Obj]:
        """What an annotation names: `X`, `Optional[X]`, `Union[X, None]`, `X | None`."""
        from celerylint.facts.types import BinOp, Seq, Sub

        if depth > MAX_DEPTH:
            return []
        if isinstance(value, BinOp) and value.op == "BitOr":
            return self._annotated_types(ctx, value.left, depth + 1) + self._annotated_types(ctx, value.right, depth + 1)
        if isinstance(value, Sub):
            wrapper = self.resolve(ctx, value.base, depth + 1)
            if not (isinstance(wrapper, ExtObj) and wrapper.path in TYPE_WRAPPERS):
                return []
            items = value.key.items if isinstance(value.key, Seq) else (value.key,)
            return [obj for item in items for obj in self._annotated_types(ctx, item, depth + 1)]
        return [self.resolve(ctx, value, depth + 1)]

    def _module_attr(self, module: str, name: str, depth: int = 0) -> Obj:
        info = self.module(module)
        if info is None:
            return UNKNOWN
        binding = self.globals.get(module, {}).get(name)
        if binding is not None:
            return self.resolve(Ctx(info, binding.scope), binding.value, depth + 1)
        if (module, name) in self.functions:
            return FuncObj(module, name)
        if (module, name) in self.classes:
            return ClassObj(module, name)
        fact = self.module_imports.get(module, {}).get(name)
        if fact is not None:
            return self._imported(info, fact, name, depth)
        sub = self.index.get(f"{module}.{name}")
        if sub is not None:
            return ModObj(sub.name)
        for star in self.star_imports.get(module, ()):
            star_info = self.index.get(star, info)
            if star_info is not None and star_info.name != module:
                found = self.module_attr(star_info.name, name, depth + 1)
                if not isinstance(found, UnknownObj):
                    return found
        return UNKNOWN

    def _imported(self, info: ModuleInfo, fact: ImportFact, bound: str, depth: int) -> Obj:
        base = self.index.absolute(info, fact.module)
        if not fact.is_from:
            target = fact.module if bound != fact.module.split(".")[0] else bound
            return self.resolve_dotted(target, info, depth + 1)
        name = fact.names[fact.bound.index(bound)]
        return self.resolve_dotted(f"{base}.{name}" if base else name, info, depth + 1)

    # --- attributes -------------------------------------------------------------

    def getattr(self, obj: Obj, attr: str, depth: int = 0) -> Obj:
        if depth > MAX_DEPTH:
            return UNKNOWN
        if isinstance(obj, ModObj):
            return self.module_attr(obj.name, attr, depth + 1)
        if isinstance(obj, ClassObj):
            return self.class_attr(obj, attr, depth + 1) or UNKNOWN
        if isinstance(obj, InstObj):
            if isinstance(obj.cls, ClassObj):
                found = self.class_attr(obj.cls, attr, depth + 1)
                if isinstance(found, FuncObj) and self.is_property(found):
                    return self._returned(found, depth + 1)
                if found is None:
                    found = self.instance_attr(obj.cls, attr, depth + 1)
                if found is not None:
                    return found
            elif EXTENSION_APP_HOLDERS.get(obj.cls) == attr:
                module, scope, line = obj.origin
                return AppObj(module, scope, line, 0)
            return AttrOf(obj, attr)
        if isinstance(obj, ExtObj):
            return ExtObj(f"{obj.path}.{attr}")
        if isinstance(obj, AppObj) and attr == "Task" and obj in self.app_task_class:
            # `class DbTask(app.Task)` after `app.Task = ContextTask` subclasses ContextTask.
            info, scope, value = self.app_task_class[obj]
            return self.resolve(Ctx(info, scope), value, depth + 1)
        if isinstance(obj, (AppObj, AppClassObj)):
            cls = obj.cls if isinstance(obj, AppClassObj) else self.app_class_of.get(obj)
            if cls is not None:
                found = self.class_attr(cls, attr, depth + 1)
                if isinstance(found, FuncObj):
                    return found
            method = self.assigned_method(cls, attr, depth + 1)
            if method is not None:
                return method
            return AttrOf(obj, attr)
        if isinstance(obj, AttrOf):
            return AttrOf(obj.base, f"{obj.path}.{attr}")
        return UNKNOWN

    def property_getters(self, ctx: Ctx, value: Value) -> List[FuncObj]:
        """The property getters reading a dotted name runs (`ext.celery.task`: Ext.celery)."""
        if not isinstance(value, Ref) or "." not in value.path:
            return []
        # Every worker's closure asks this for the same names, like resolve (cached alike).
        key = (ctx.module.name, ctx.scope, value)
        found = self._getters.get(key)
        if found is None:
            found = self._getters[key] = self._property_getters(ctx, value)
        return found

    def _property_getters(self, ctx: Ctx, value: Ref) -> List[FuncObj]:
        obj: Obj
        if value.scope == "import":
            info, attrs = self.index.longest_module_prefix(self.index.absolute(ctx.module, value.path), ctx.module)
            if info is None:
                return []
            obj = ModObj(info.name)
        else:
            first, *attrs = value.path.split(".")
            obj = self.resolve(ctx, Ref(value.scope, first))
        getters: List[FuncObj] = []
        for attr in attrs:
            if isinstance(obj, InstObj) and isinstance(obj.cls, ClassObj):
                found = self.class_attr(obj.cls, attr)
                if isinstance(found, FuncObj) and self.is_property(found):
                    getters.append(found)
            obj = self.getattr(obj, attr)
        return getters

    def is_property(self, method: FuncObj) -> bool:
        fact = self.functions.get((method.module, method.qualname))
        info = self.module(method.module)
        if fact is None or info is None:
            return False
        for decorator, _ in fact.decorators:
            obj = self.resolve(Ctx(info, fact.scope), decorator)
            if isinstance(obj, ExtObj) and obj.path in PROPERTIES:
                return True
        return False

    def instance_attr(self, cls: ClassObj, attr: str, depth: int = 0) -> Optional[Obj]:
        """What `self.attr = ...` in a method of the class (or of a base) sets, the last one written
        that resolves; None when no method sets it."""
        for owner in self.mro(cls):
            if not isinstance(owner, ClassObj):
                continue
            writes = self.instance_attrs.get(owner, {}).get(attr)
            if not writes:
                continue
            fallback: Obj = UNKNOWN
            for module, scope, value in writes:
                info = self.module(module)
                if info is None:
                    continue
                found = self.resolve(Ctx(info, scope), value, depth + 1)
                # `self.app = None` in __init__, the app in init_app(): the app is what is used.
                if isinstance(found, ValObj) and found.value == Const(None):
                    fallback = found
                elif not isinstance(found, UnknownObj):
                    return found
            return fallback
        return None

    def assigned_method(self, cls: Optional[ClassObj], attr: str, depth: int = 0) -> Optional[FuncObj]:
        """A function assigned onto an app's class or onto Celery itself (`Celery.init_app = init_app`)."""
        stores = self.class_stores()
        keys: List[str] = []
        if cls is not None:
            keys.extend(f"{owner.module}.{owner.qualname}" for owner in self.mro(cls) if isinstance(owner, ClassObj))
        keys.extend(sorted(CELERY_CLASSES))
        for key in keys:
            found = stores.get((key, attr))
            if found is not None:
                info, scope, value = found
                obj = self.resolve(Ctx(info, scope), value, depth + 1)
                return obj if isinstance(obj, FuncObj) else None
        return None

    def class_stores(self) -> Dict[Tuple[str, str], Tuple[ModuleInfo, str, Value]]:
        """`Celery.init_app = init_app` and the like at module level: (class, attribute) -> value."""
        if self._class_stores is None:
            self._class_stores = {}
            for info in self.index.modules():
                for store in info.facts.stores:
                    target = store.target
                    if store.scope != MODULE_SCOPE or not isinstance(target, Ref) or "." not in target.path:
                        continue
                    owner = self.resolve(Ctx(info, MODULE_SCOPE), Ref(target.scope, target.path.rpartition(".")[0]))
                    if isinstance(owner, ExtObj) and owner.path in CELERY_CLASSES:
                        key = owner.path
                    elif isinstance(owner, ClassObj) and owner in self.app_classes:
                        key = f"{owner.module}.{owner.qualname}"
                    else:
                        continue
                    self._class_stores[(key, target.last)] = (info, MODULE_SCOPE, store.value)
        return self._class_stores

    def is_assigned_method(self, function: FuncObj) -> bool:
        """Whether the function is assigned onto an app class: its first parameter is the app."""
        for info, scope, value in self.class_stores().values():
            if self.resolve(Ctx(info, scope), value) == function:
                return True
        return False

    def class_attr(self, cls: ClassObj, attr: str, depth: int = 0, seen: Optional[Set[ClassObj]] = None) -> Optional[Obj]:
        seen = seen if seen is not None else set()
        if cls in seen or depth > MAX_DEPTH:
            return None
        seen.add(cls)
        fact = self.classes.get((cls.module, cls.qualname))
        info = self.module(cls.module)
        if fact is None or info is None:
            return None
        for binding in reversed(fact.attributes):
            if binding.name == attr:
                return self.resolve(Ctx(info, fact.scope), binding.value, depth + 1)
        if attr in fact.methods:
            return FuncObj(cls.module, f"{cls.qualname}.{attr}")
        for base in self.bases(cls, depth + 1):
            if isinstance(base, ClassObj):
                found = self.class_attr(base, attr, depth + 1, seen)
                if found is not None:
                    return found
        return None

    def bases(self, cls: ClassObj, depth: int = 0) -> List[Obj]:
        known = self._bases.get(cls)
        if known is not None:
            return known
        fact = self.classes.get((cls.module, cls.qualname))
        info = self.module(cls.module)
        if fact is None or info is None:
            return []
        found = [self.resolve(Ctx(info, fact.scope), base, depth + 1) for base in fact.bases]
        # Kept when no resolution is under way, whose unfinished names resolve as unknown for
        # now: mro() asks again for every class of every hierarchy it walks.
        if not self._busy and depth == 0:
            self._bases[cls] = found
        return found

    def mro(self, cls: ClassObj) -> Iterator[Obj]:
        """The class and everything its bases resolve to, breadth first, once each."""
        seen: Set[Obj] = set()
        queue: List[Obj] = [cls]
        while queue and len(seen) < 100:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            yield current
            if isinstance(current, ClassObj):
                queue.extend(self.bases(current))

    def reaches(self, cls: ClassObj, predicate: Callable[[Obj], bool]) -> bool:
        return any(predicate(obj) for obj in self.mro(cls))

    def reaches_external(self, cls: ClassObj, paths: FrozenSet[str]) -> bool:
        """Whether the class's bases reach an installed class named in ``paths`` (Celery's Task,
        Flask). Each class is answered once for all the classes below it: a project's models
        share most of their bases."""
        return self._reaches_external(cls, paths, set())[0]

    def _reaches_external(self, cls: ClassObj, paths: FrozenSet[str], busy: Set[ClassObj]) -> Tuple[bool, bool]:
        """(the answer, whether it met a class still being answered): such an answer, in a
        cycle a static reading can make, depends on where the walk started and is not kept."""
        known = self._reaches.get((paths, cls))
        if known is not None:
            return known, False
        if cls in busy:
            return False, True
        busy.add(cls)
        found = in_cycle = False
        for base in self.bases(cls):
            if isinstance(base, ExtObj) and base.path in paths:
                found = True
            elif isinstance(base, ClassObj):
                found, met = self._reaches_external(base, paths, busy)
                in_cycle = in_cycle or met
            if found:
                break
        busy.discard(cls)
        if found or not in_cycle:
            self._reaches[(paths, cls)] = found
        return found, in_cycle and not found

    # --- calls -----------------------------------------------------------------

    def _call(self, ctx: Ctx, call: Call, depth: int) -> Obj:
        func = self.resolve(ctx, call.func, depth)
        if self.is_celery_class(func):
            fact = self.call_fact(ctx.module, ctx.scope, call)
            line, col = (fact.loc.line, fact.loc.col) if fact is not None else (0, 0)
            return AppObj(ctx.module.name, ctx.scope, line, col)
        if isinstance(func, ClassObj):
            return InstObj(func, (ctx.module.name, ctx.scope, 0))
        if isinstance(func, ExtObj) and (func.path in EXTENSION_APP_FACTORIES or func.path in EXTENSION_APP_HOLDERS):
            # An extension's app is identified by the call that makes it (column 0 marks it).
            fact = self.call_fact(ctx.module, ctx.scope, call)
            line = fact.loc.line if fact is not None else 0
            if func.path in EXTENSION_APP_FACTORIES:
                return AppObj(ctx.module.name, ctx.scope, line, 0)
            return InstObj(func.path, (ctx.module.name, ctx.scope, line))
        if isinstance(func, ExtObj) and func.path in LAZY_PROXIES and call.args:
            target = self.lazy_target(ctx, call, depth)
            if target is not None:
                return target
        if isinstance(func, ExtObj):
            return InstObj(func.path, (ctx.module.name, ctx.scope, 0))
        if isinstance(func, FuncObj):
            return self._returned(func, depth)
        return UNKNOWN

    def lazy_target(self, ctx: Ctx, call: Call, depth: int = 0) -> Optional[Obj]:
        """What `Proxy(get_app)` (or `Proxy(lambda: app)`) stands for, when that is known."""
        from celerylint.facts.types import LambdaVal

        argument = call.args[0]
        if isinstance(argument, LambdaVal):
            found = self.resolve(ctx, argument.body, depth + 1)
        else:
            function = self.resolve(ctx, argument, depth + 1)
            found = self._returned(function, depth + 1) if isinstance(function, FuncObj) else UNKNOWN
        # Only what the proxy is known to be (an app, an instance): a literal stays the proxy.
        return None if isinstance(found, (UnknownObj, ValObj, ParamObj)) else found

    def _returned(self, func: FuncObj, depth: int) -> Obj:
        fact = self.functions.get((func.module, func.qualname))
        info = self.module(func.module)
        if fact is None or info is None:
            return UNKNOWN
        ctx = Ctx(info, fact.qualname)
        for value in fact.returns:
            obj = self.resolve(ctx, value, depth + 1)
            if not isinstance(obj, (UnknownObj, ValObj)):
                return obj
        return UNKNOWN

    def canonical(self, ctx: Ctx, ref: Ref) -> str:
        """A dotted name for what ``ref`` names, following imports but not values."""
        if ref.scope == "import":
            dotted = self.index.absolute(ctx.module, ref.path)
        elif ref.scope == "global":
            dotted = f"{ctx.module.name}.{ref.path}"
        else:
            return f"{ctx.module.name}:{ctx.scope}:{ref.path}"
        for _ in range(MAX_DEPTH):
            info, rest = self.index.longest_module_prefix(dotted)
            if info is None or not rest:
                return dotted
            fact = self.module_imports.get(info.name, {}).get(rest[0])
            if fact is None:
                return dotted
            base = self.index.absolute(info, fact.module)
            if fact.is_from:
                target = f"{base}.{fact.names[fact.bound.index(rest[0])]}" if base else rest[0]
            else:
                target = fact.module if rest[0] != fact.module.split(".")[0] else rest[0]
            dotted = ".".join([target, *rest[1:]])
        return dotted

    def record_app_task_class(self, app: AppObj, info: ModuleInfo, scope: str, value: Value) -> None:
        """The apps phase found the app's Task class: `app.Task` now resolves to it."""
        if app not in self.app_task_class:
            self.app_task_class[app] = (info, scope, value)
            self._forget()

    def _forget(self) -> None:
        """What was resolved before the apps phase learnt more about the project's classes."""
        self._cache.clear()
        self._bases.clear()
        self._reaches.clear()
        self._class_stores = None

    def is_celery_class(self, obj: Obj) -> bool:
        if isinstance(obj, ExtObj):
            return obj.path in CELERY_CLASSES
        return isinstance(obj, ClassObj) and obj in self.app_classes

    def find_app_classes(self) -> None:
        """Project classes whose bases reach celery.Celery (IndicoCelery and the like)."""
        changed = True
        while changed:
            changed = False
            for (module, qualname) in self.classes:
                cls = ClassObj(module, qualname)
                if cls in self.app_classes:
                    continue
                if any(self.is_celery_class(base) for base in self.bases(cls)):
                    self.app_classes.add(cls)
                    self._forget()
                    changed = True
