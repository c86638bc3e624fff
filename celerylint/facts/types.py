"""Per-file facts, a pure function of a file's bytes.

Every fact is a named tuple: it unpickles in half the time of a dataclass, holds no __dict__,
and hashes and compares in C (the cache loads many thousands each run; the model keys its caches
by values). Equal tuples of two types compare equal, and values must not (`Const("x")` is no
`Opaque("x")`): each value type ends with a `tag` field holding its own name, left out of its
repr. Records (Loc, ImportFact, ... ModuleFacts) are never compared across types.

They pickle (for the process pool and the cache) and carry no libcst objects.
Names inside values are qualified through the file's own imports and scopes,
but not across files: that is the project model's job.
"""

from __future__ import annotations

from typing import FrozenSet, Literal, NamedTuple, Optional, Tuple, Union


class Loc(NamedTuple):
    """A source span: 1-based lines, 1-based columns (as flake8 prints them)."""

    line: int
    col: int
    end_line: int
    end_col: int


# Attribute reads on a local variable that may read a task result (extractor and CEL001 agree).
RESULT_ATTRS = frozenset(
    {"state", "status", "result", "get", "ready", "successful", "failed", "wait", "info", "traceback"}
)

# Exception classes whose handler catches a failed import: the import is optional.
IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})

# --- Values: what an expression is, as far as one file can tell -------------

# Where a dotted name comes from:
#   "import"  : through an import; path is absolute ("flask.g") or relative ("..ext.db")
#   "global"  : a name bound at module level in this file ("app.conf")
#   "local"   : a name bound in the enclosing function ("res.state")
#   "builtin" : not bound anywhere in the file ("set", "open")
RefScope = Literal["import", "global", "local", "builtin"]
SeqKind = Literal["list", "tuple", "set"]
ParamKind = Literal["posonly", "pos", "vararg", "kwonly", "varkw"]


def tagged_repr(value: Tuple[object, ...]) -> str:
    """A tagged named tuple (a value, a resolved object) as its constructor call, without its tag."""
    fields = getattr(value, "_fields")[:-1]
    return f"{type(value).__name__}({', '.join(f'{name}={item!r}' for name, item in zip(fields, value))})"


class Ref(NamedTuple):
    scope: RefScope
    path: str
    tag: str = "Ref"  # tells equal fields of two kinds apart (see the module docstring)

    @property
    def root(self) -> str:
        return self.path.lstrip(".").split(".", 1)[0]

    @property
    def last(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def __repr__(self) -> str:
        return tagged_repr(self)


class Const(NamedTuple):
    value: Union[str, bytes, int, float, complex, bool, None]
    tag: str = "Const"  # tells equal fields of two kinds apart (see the module docstring)

    def __repr__(self) -> str:
        return tagged_repr(self)


class Attr(NamedTuple):
    """An attribute of something that is not a plain name chain (``f().x``)."""

    base: "Value"
    attr: str
    tag: str = "Attr"  # tells equal fields of two kinds apart (see the module docstring)

    def __repr__(self) -> str:
        return tagged_repr(self)


class Call(NamedTuple):
    func: "Value"
    args: Tuple["Value", ...] = ()
    kwargs: Tuple[Tuple[str, "Value"], ...] = ()
    has_star: bool = False
    tag: str = "Call"  # tells equal fields of two kinds apart (see the module docstring)

    def kwarg(self, name: str) -> Optional["Value"]:
        for key, value in self.kwargs:
            if key == name:
                return value
        return None

    def __repr__(self) -> str:
        return tagged_repr(self)


class Sub(NamedTuple):
    base: "Value"
    key: "Value"
    tag: str = "Sub"  # tells equal fields of two kinds apart (see the module docstring)

    def __repr__(self) -> str:
        return tagged_repr(self)


class Seq(NamedTuple):
    kind: SeqKind
    items: Tuple["Value", ...]
    has_star: bool = False
    tag: str = "Seq"  # tells equal fields of two kinds apart (see the module docstring)

    def __repr__(self) -> str:
        return tagged_repr(self)


class DictVal(NamedTuple):
    items: Tuple[Tuple["Value", "Value"], ...]
    has_spread: bool = False
    tag: str = "DictVal"  # tells equal fields of two kinds apart (see the module docstring)

    def __repr__(self) -> str:
        return tagged_repr(self)


class BinOp(NamedTuple):
    op: str
    left: "Value"
    right: "Value"
    tag: str = "BinOp"  # tells equal fields of two kinds apart (see the module docstring)

    def __repr__(self) -> str:
        return tagged_repr(self)


class IterItem(NamedTuple):
    """One item of iterating ``base`` (a ``for`` target)."""

    base: "Value"
    tag: str = "IterItem"  # tells equal fields of two kinds apart (see the module docstring)

    def __repr__(self) -> str:
        return tagged_repr(self)


class LambdaVal(NamedTuple):
    """A lambda with no parameters, kept for ``autodiscover_tasks(lambda: ...)``."""

    body: "Value"
    tag: str = "LambdaVal"  # tells equal fields of two kinds apart (see the module docstring)

    def __repr__(self) -> str:
        return tagged_repr(self)


class Opaque(NamedTuple):
    """An expression whose kind is known but whose value is not followed.

    kind: "lambda", "genexp", "listcomp", "setcomp", "dictcomp", "fstring",
    "ifexp", "await", "expr", ...
    """

    kind: str
    tag: str = "Opaque"  # tells equal fields of two kinds apart (see the module docstring)

    def __repr__(self) -> str:
        return tagged_repr(self)


Value = Union[Ref, Const, Attr, Call, Sub, Seq, DictVal, BinOp, IterItem, LambdaVal, Opaque]


def last_name(value: Value) -> str:
    """The last name of `a.b.name` or `f().name`, else ""."""
    return value.last if isinstance(value, Ref) else value.attr if isinstance(value, Attr) else ""

# --- Statements and definitions ---------------------------------------------

MODULE_SCOPE = ""
MAIN_SCOPE = "<__main__>"  # statements under `if __name__ == "__main__":`


class ImportFact(NamedTuple):
    """``import a.b`` (names empty) or ``from module import names``."""

    module: str  # absolute, or relative with leading dots
    names: Tuple[str, ...]
    scope: str
    line: int
    is_from: bool
    # The names bound in the importing module, parallel to names (or one for `import`).
    bound: Tuple[str, ...] = ()
    # Written where a failed import is caught (`try: ... except ImportError`, `with
    # suppress(ImportError)`): the module may be absent where the code runs.
    optional: bool = False
    # Under an `if` or in a `try` whose handler catches ImportError: it may never run, or its
    # failure is handled (compatibility shims, `if TYPE_CHECKING:`).
    conditional: bool = False


class CallFact(NamedTuple):
    value: Call
    loc: Loc
    scope: str
    # Receivers of enclosing `with X.app_context():` style blocks, innermost last.
    contexts: Tuple[Value, ...] = ()
    # For task calls (.delay, .apply_async, ...): each argument's span, keyed by
    # its position ("0", "1", ...) or keyword.
    arg_locs: Tuple[Tuple[str, Loc], ...] = ()
    # What enclosing `with f(...):` blocks of the same function called (`allow_join_result`).
    managers: Tuple[Value, ...] = ()
    # Inside an `if`/`elif`/`else`, a loop or an `except` of its own scope: it may not run.
    guarded: bool = False

    def arg_loc(self, key: str) -> Loc:
        for name, loc in self.arg_locs:
            if name == key:
                return loc
        return self.loc


class StoreFact(NamedTuple):
    """An assignment to an attribute or item: ``app.conf.x = v``, ``cfg['X'] = v``."""

    target: Value
    value: Value
    loc: Loc
    scope: str
    guarded: bool = False  # inside an if/loop/except of its own scope: it may not run


class UseFact(NamedTuple):
    """A maximal name/attribute chain read inside a function."""

    ref: Ref
    loc: Loc
    scope: str
    contexts: Tuple[Value, ...] = ()
    # Inside `with X.test_request_context(...)` / `with X.request_context(...)` in its function.
    in_request_context: bool = False


class Binding(NamedTuple):
    name: str
    value: Value
    loc: Loc
    # Where the assignment runs: a module global assigned in a function (`global x; x = ...`)
    # runs, and has its value evaluated, in that function.
    scope: str = MODULE_SCOPE
    guarded: bool = False  # inside an if/loop/except of its own scope: it may not run


class ParamFact(NamedTuple):
    name: str
    kind: ParamKind
    has_default: bool
    annotation: Optional[Value] = None


class FunctionFact(NamedTuple):
    name: str
    qualname: str  # "outer.Inner.method"
    loc: Loc  # the `def` line
    decorators: Tuple[Tuple[Value, Loc], ...]
    params: Tuple[ParamFact, ...]
    returns: Tuple[Value, ...]
    locals: Tuple[Binding, ...]
    class_qualname: Optional[str] = None
    scope: str = MODULE_SCOPE  # where the def statement runs


class ClassFact(NamedTuple):
    name: str
    qualname: str
    loc: Loc
    bases: Tuple[Value, ...]
    attributes: Tuple[Binding, ...]
    methods: Tuple[str, ...]
    scope: str = MODULE_SCOPE


class SyntaxErrorFact(NamedTuple):
    message: str
    line: int
    col: int


class ModuleFacts(NamedTuple):
    """Everything celerylint needs to know about one file."""

    imports: Tuple[ImportFact, ...] = ()
    globals: Tuple[Binding, ...] = ()
    functions: Tuple[FunctionFact, ...] = ()
    classes: Tuple[ClassFact, ...] = ()
    calls: Tuple[CallFact, ...] = ()
    stores: Tuple[StoreFact, ...] = ()
    uses: Tuple[UseFact, ...] = ()
    # Scopes that import modules by a name computed at run time (importlib, __import__).
    dynamic_import_scopes: Tuple[str, ...] = ()
    # Whole-file facts came from libcst (True) or only imports from a cheap scan (False).
    detailed: bool = False
    syntax_error: Optional[SyntaxErrorFact] = None
    # The file mentions Celery or Flask: when it does not parse, what it configures is unknown.
    relevant: bool = False
    # Why the file's content is not known although it is not a syntax error (unreadable, too large).
    unanalysed: Optional[str] = None
    # Cheap scans only: every name bound at module level (defs, classes, assignments, imports);
    # ("*",) when they are not known (a file too large to parse).
    defined_names: Tuple[str, ...] = ()
    # Module-level names with a type annotation (`app: Celery`, `app: "Celery" = ...`,
    # `app: Optional[Celery] = None`): value is the annotation, a string one parsed.
    annotations: Tuple[Binding, ...] = ()
    # Detailed facts only: what the file's values read (see facts/names.py).
    names_read: FrozenSet[str] = frozenset()
