"""The detailed facts of one module from Python's own `ast`: the same ModuleFacts as the libcst
extraction (facts/extract.py), at a fraction of the cost, from the tree the file was already
parsed into. libcst remains the parser for code newer than the running interpreter's grammar.

The traversal mirrors extract.py's exactly (which sub-expressions are visited, in which order,
and where each location starts and ends); `tests/test_extract_ast.py` holds the two to the
same facts on every fixture, rule example and on this package's own sources. Columns are
characters, as libcst counts them (`ast` counts UTF-8 bytes), 1-based.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple, Union

from celerylint.facts.common import (
    BUILTIN_NAMES,
    CONFIG_CALLS,
    CONTEXT_METHODS,
    MAX_VALUE_DEPTH,
    REQUEST_CONTEXT_METHODS,
    TASK_CALL_METHODS,
    Frame,
    Scopes,
    join,
)
from celerylint.facts.scan import dotted_name
from celerylint.facts.types import (
    IMPORT_ERRORS,
    MODULE_SCOPE,
    RESULT_ATTRS,
    Attr,
    Binding,
    BinOp,
    Call,
    CallFact,
    ClassFact,
    Const,
    DictVal,
    FunctionFact,
    ImportFact,
    IterItem,
    LambdaVal,
    Loc,
    ModuleFacts,
    Opaque,
    ParamFact,
    ParamKind,
    Ref,
    Seq,
    SeqKind,
    StoreFact,
    Sub,
    UseFact,
    Value,
    last_name,
)

# libcst's class names for what `ast` calls otherwise: operators (BinOp.op) and Opaque kinds.
OPERATORS = {
    "Add": "Add", "Sub": "Subtract", "Mult": "Multiply", "Div": "Divide", "FloorDiv": "FloorDivide",
    "Mod": "Modulo", "Pow": "Power", "LShift": "LeftShift", "RShift": "RightShift", "BitOr": "BitOr",
    "BitAnd": "BitAnd", "BitXor": "BitXor", "MatMult": "MatrixMultiply",
}
OPAQUE_KINDS = {
    "Compare": "comparison", "BoolOp": "booleanoperation", "IfExp": "ifexp", "NamedExpr": "namedexpr",
    "Yield": "yield", "YieldFrom": "yield", "Starred": "starredelement", "Slice": "slice",
}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DEF_NAME = re.compile(r"(?:async(?:\s|\\\r?\n)+)?(?:def|class)(?:\s|\\\r?\n)+([^\W\d]\w*)", re.UNICODE)
_BLANK = " \t\f\r\n\\"
AnyFunction = Union[ast.FunctionDef, ast.AsyncFunctionDef]
Scoped = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef]


class Source:
    """Line texts for turning `ast`'s UTF-8 byte columns into character columns."""

    def __init__(self, text: str) -> None:
        starts = [0]
        for match in _LINE_BREAK.finditer(text):
            starts.append(match.end())
        self.text = text
        self.starts = starts
        self.lines = [text[start:end] for start, end in zip(starts, starts[1:] + [len(text)])]

    def column(self, line: int, byte_offset: int) -> int:
        """The 0-based character column of a byte offset on a 1-based line."""
        if not 0 < line <= len(self.lines):
            return byte_offset
        text = self.lines[line - 1]
        if text.isascii():
            return byte_offset
        return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))

    def mentions(self, node: ast.AST, words: Tuple[str, ...]) -> bool:
        """Whether the lines a node spans hold one of ``words`` (anywhere: a superset test)."""
        first, last = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        if first is None or last is None:
            return True
        text = self.text[self.starts[first - 1] : self.starts[last] if last < len(self.starts) else len(self.text)]
        return any(word in text for word in words)

    def offset(self, line: int, column: int) -> int:
        """Index into the text of a 1-based line and 0-based character column."""
        return self.starts[line - 1] + column if 0 < line <= len(self.starts) else len(self.text)


# Nodes with nothing below them that matters: names, literals, contexts and operators.
_LEAVES = (ast.Name, ast.Constant, ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


def _children(node: ast.AST) -> Iterator[ast.AST]:
    """ast.iter_child_nodes without contexts and operators (and without its generator layers)."""
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST) and not isinstance(item, _SKIPPED):
                    yield item
        elif isinstance(value, ast.AST) and not isinstance(value, _SKIPPED):
            yield value


_SKIPPED = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


class _Bindings:
    """Names bound directly in one scope, as extract._BindingCollector finds them."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.bound: Set[str] = set()
        self.globals: Set[str] = set()
        self.imports: Dict[str, str] = {}

    def target(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            self.bound.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                self.target(element)
        elif isinstance(node, ast.Starred):
            self.target(node.value)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.expr) and not isinstance(node, (ast.NamedExpr, ast.Lambda)):
            # Most nodes: an expression binds nothing itself; inside it only `:=` and a
            # comprehension's `for` can, and its lines hold neither word for most expressions.
            if not isinstance(node, _LEAVES) and self.source.mentions(node, (":=", "for")):
                self.visit_inside(node)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.bound.add(node.name)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self.target(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            self.target(node.target)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.target(node.target)
        elif isinstance(node, ast.withitem):
            if node.optional_vars is not None:
                self.target(node.optional_vars)
        elif isinstance(node, ast.ExceptHandler):
            if node.name is not None:
                self.bound.add(node.name)
        elif isinstance(node, ast.NamedExpr):
            self.target(node.target)
        elif isinstance(node, ast.comprehension):
            self.target(node.target)  # as extract._BindingCollector.visit_CompFor
        elif isinstance(node, ast.Global):
            self.globals.update(node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is not None:
                    self.imports[alias.asname] = alias.name
                else:
                    root = alias.name.split(".", 1)[0]
                    self.imports[root] = root
            return
        elif isinstance(node, ast.ImportFrom):
            if not (len(node.names) == 1 and node.names[0].name == "*"):
                module = _from_module(node)
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = join(module, alias.name)
            return
        for child in _children(node):
            self.visit(child)

    def visit_inside(self, node: ast.AST) -> None:
        """Visit an expression's children, already known to possibly bind."""
        for child in _children(node):
            if isinstance(child, ast.expr) and not isinstance(child, (ast.NamedExpr, ast.Lambda)):
                if not isinstance(child, _LEAVES):
                    self.visit_inside(child)
            else:
                self.visit(child)


def _collect(source: Source, body: Sequence[ast.AST], args: Optional[ast.arguments] = None) -> _Bindings:
    collector = _Bindings(source)
    if args is not None:
        for arg in _all_args(args):
            collector.bound.add(arg.arg)
    for statement in body:
        collector.visit(statement)
    collector.bound -= collector.globals
    for name in collector.imports:
        collector.bound.discard(name)
    return collector


def _all_args(args: ast.arguments) -> List[ast.arg]:
    result = list(args.posonlyargs) + list(args.args) + list(args.kwonlyargs)
    for star in (args.vararg, args.kwarg):
        if star is not None:
            result.append(star)
    return result


def _from_module(node: ast.ImportFrom) -> str:
    return "." * (node.level or 0) + (node.module or "")


def _position(node: ast.AST) -> Tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _catches_import_error(kind: Optional[ast.expr]) -> bool:
    """`except:`, `except ImportError`, `except (ImportError, X)`, `except Exception`."""
    if kind is None:
        return True
    if isinstance(kind, ast.Tuple):
        return any(_catches_import_error(element) for element in kind.elts)
    name = dotted_name(kind)
    return name is not None and name.rsplit(".", 1)[-1] in IMPORT_ERRORS


def _suppresses_import_error(expression: ast.expr) -> bool:
    """`suppress(ImportError)`, `contextlib.suppress(ModuleNotFoundError, ...)`."""
    if not isinstance(expression, ast.Call):
        return False
    name = dotted_name(expression.func)
    if name is None or name.rsplit(".", 1)[-1] != "suppress":
        return False
    return any(_catches_import_error(arg.value if isinstance(arg, ast.Starred) else arg) for arg in expression.args)


def _is_main_test(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    strings = [s for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, str) and "__main__" in s.value]
    return bool(names) and bool(strings)


class AstFactExtractor(Scopes):
    """extract.FactExtractor over an `ast` tree."""

    def __init__(self, tree: ast.Module, source: Source) -> None:
        self.source = source
        self._methods: Dict[type, Optional[Callable[[AstFactExtractor, Any], None]]] = {}
        top = _collect(source, tree.body)
        self.frames: List[Frame] = [Frame("module", MODULE_SCOPE, top.bound, top.imports)]
        self.main_block = False
        self.imports: List[ImportFact] = []
        self.globals: List[Binding] = []
        self.functions: List[FunctionFact] = []
        self.classes: List[ClassFact] = []
        self.calls: List[CallFact] = []
        self.stores: List[StoreFact] = []
        self.uses: Dict[Tuple[str, str, Tuple[Value, ...], bool], UseFact] = {}
        self.dynamic_scopes: Set[str] = set()
        self.value_memo: Dict[int, Value] = {}  # by node identity: every node must outlive the walk
        self.parsed_annotations: List[ast.expr] = []  # string annotations' trees, kept for that
        self.interned: Dict[object, Value] = {}
        self.annotations: List[Binding] = []
        self.optional_imports = 0  # depth of blocks whose failed imports are caught
        self.conditional_depth = 0  # enclosing `if` bodies and ImportError-catching `try` bodies
        self.star_import = any(
            isinstance(statement, ast.ImportFrom) and any(alias.name == "*" for alias in statement.names)
            for statement in tree.body
        )

    # --- scopes and names (as in extract.py) -------------------------------

    # --- locations -----------------------------------------------------------

    def loc(self, node: ast.AST) -> Loc:
        line, end_line = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        col = self.source.column(line, node.col_offset)  # type: ignore[attr-defined]
        end_col = self.source.column(end_line, node.end_col_offset or 0)  # type: ignore[attr-defined]
        if isinstance(node, ast.GeneratorExp) or (isinstance(node, ast.Tuple) and self._parenthesized(node)):
            return self._inside_parentheses(line, col, end_line, end_col)
        return Loc(line, col + 1, end_line, end_col + 1)

    def _inside_parentheses(self, line: int, col: int, end_line: int, end_col: int) -> Loc:
        """`ast` spans a tuple or a generator expression with its parentheses (the call's, for a
        generator that is the only argument); libcst spans what is inside them."""
        text = self.source.text
        start, end = self.source.offset(line, col), self.source.offset(end_line, end_col)
        if text[start:start + 1] == "(" and text[end - 1:end] == ")":
            start += 1
            end -= 1
            while start < end and text[start] in _BLANK:
                start += 1
            while end > start and text[end - 1] in _BLANK:
                end -= 1
        return self._span(start, end)

    def name_loc(self, node: Scoped) -> Loc:
        """The name of a `def`/`class` (ast has no node for it)."""
        start = self.source.offset(node.lineno, self.source.column(node.lineno, node.col_offset))
        match = _DEF_NAME.match(self.source.text, start)
        if match is None:
            return self.loc(node)
        return self._span(match.start(1), match.end(1))

    def _span(self, start: int, end: int) -> Loc:
        line, col = self._line_col(start)
        end_line, end_col = self._line_col(end)
        return Loc(line, col + 1, end_line, end_col + 1)

    def _line_col(self, offset: int) -> Tuple[int, int]:
        starts = self.source.starts
        low, high = 0, len(starts) - 1
        while low < high:  # the last line starting at or before offset
            middle = (low + high + 1) // 2
            if starts[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        return low + 1, offset - starts[low]

    def attr_loc(self, node: ast.Attribute) -> Loc:
        """The attribute name of `x.attr`: it ends where the expression ends."""
        end_line = node.end_lineno or node.lineno
        end_col = self.source.column(end_line, node.end_col_offset or 0)
        return Loc(end_line, end_col - len(node.attr) + 1, end_line, end_col + 1)

    # --- values --------------------------------------------------------------

    def value(self, node: ast.expr, depth: int = 0) -> Value:
        key = id(node)
        cached = self.value_memo.get(key)
        if cached is not None:
            return cached
        value = self._value(node, depth)
        if isinstance(value, (Const, Opaque)):
            value = self.intern(value)
        if not (isinstance(value, Opaque) and value.kind == "deep"):
            self.value_memo[key] = value
        return value

    def _value(self, node: ast.expr, depth: int) -> Value:
        if depth > MAX_VALUE_DEPTH:
            return Opaque("deep")
        depth += 1
        name = dotted_name(node)
        if name is not None:
            if name in ("True", "False", "None"):
                return Const({"True": True, "False": False, "None": None}[name])
            return self.qualify(name)
        if isinstance(node, ast.Constant):
            value = node.value
            if value is Ellipsis:
                return Opaque("ellipsis")
            if isinstance(value, complex):
                return Opaque("complex")
            if isinstance(value, bytes) and self._literals(node) > 1:
                return Opaque("str")  # libcst evaluates only concatenated str literals
            return Const(value)
        if isinstance(node, ast.JoinedStr):
            return Opaque("fstring" if self._literals(node) == 1 else "str")
        if isinstance(node, ast.UnaryOp):
            inner = self.value(node.operand, depth)
            if isinstance(node.op, ast.USub) and isinstance(inner, Const):
                if isinstance(inner.value, (int, float)) and not isinstance(inner.value, bool):
                    return Const(-inner.value)
            if isinstance(node.op, ast.Not):
                return Opaque("bool")
            return Opaque("expr")
        if isinstance(node, ast.Attribute):
            return Attr(self.value(node.value, depth), node.attr)
        if isinstance(node, ast.Call):
            args: List[Value] = []
            kwargs: List[Tuple[str, Value]] = []
            has_star = False
            for arg in self._call_args(node):
                if isinstance(arg, ast.Starred):
                    has_star = True
                elif isinstance(arg, ast.keyword):
                    if arg.arg is None:
                        has_star = True
                    else:
                        kwargs.append((arg.arg, self.value(arg.value, depth)))
                else:
                    args.append(self.value(arg, depth))
            return Call(self.value(node.func, depth), tuple(args), tuple(kwargs), has_star)
        if isinstance(node, ast.Subscript):
            index = node.slice
            if isinstance(index, ast.Slice) or (isinstance(index, ast.Tuple) and not self._parenthesized(index)):
                return Opaque("subscript")
            return Sub(self.value(node.value, depth), self.value(index, depth))
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            kind: SeqKind = "list" if isinstance(node, ast.List) else "tuple" if isinstance(node, ast.Tuple) else "set"
            items: List[Value] = []
            starred = False
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    starred = True
                    items.append(IterItem(self.value(element.value, depth)))
                else:
                    items.append(self.value(element, depth))
            return Seq(kind, tuple(items), starred)
        if isinstance(node, ast.Dict):
            pairs = []
            spread = False
            for key, item in zip(node.keys, node.values):
                if key is None:
                    spread = True
                else:
                    pairs.append((self.value(key, depth), self.value(item, depth)))
            return DictVal(tuple(pairs), spread)
        if isinstance(node, ast.BinOp):
            op = OPERATORS.get(type(node.op).__name__, type(node.op).__name__)
            return BinOp(op, self.value(node.left, depth), self.value(node.right, depth))
        if isinstance(node, ast.Lambda):
            params = node.args
            if params.args or params.kwonlyargs or params.posonlyargs:
                return Opaque("lambda")
            return LambdaVal(self.value(node.body, depth))
        if isinstance(node, ast.GeneratorExp):
            return Opaque("genexp")
        if isinstance(node, ast.ListComp):
            return Opaque("listcomp")
        if isinstance(node, ast.SetComp):
            return Opaque("setcomp")
        if isinstance(node, ast.DictComp):
            return Opaque("dictcomp")
        if isinstance(node, ast.Await):
            return Opaque("await")
        name_of = type(node).__name__
        return Opaque(OPAQUE_KINDS.get(name_of, name_of.lower()))

    def _literals(self, node: ast.expr) -> int:
        """How many string literals make up a string expression (`"a" f"b"` is two)."""
        start = self.source.offset(node.lineno, self.source.column(node.lineno, node.col_offset))
        end_line = node.end_lineno or node.lineno
        end = self.source.offset(end_line, self.source.column(end_line, node.end_col_offset or 0))
        segment = self.source.text[start:end]
        count = depth = 0
        try:
            for token in tokenize.generate_tokens(io.StringIO(segment).readline):
                kind = tokenize.tok_name.get(token.type, "")
                if kind in ("STRING", "FSTRING_START") and depth == 0:
                    count += 1
                if kind == "FSTRING_START":
                    depth += 1
                elif kind == "FSTRING_END":
                    depth -= 1
        except (tokenize.TokenError, SyntaxError, IndentationError):
            return 1
        return count

    @staticmethod
    def _parenthesized(node: ast.Tuple) -> bool:
        """`ast` spans a tuple with its own parentheses, so a parenthesized one starts before its
        first element (an unparenthesized `(a) | b, c` starts with it)."""
        if not node.elts:
            return True
        first = node.elts[0]
        return (node.lineno, node.col_offset) < (first.lineno, first.col_offset)

    @staticmethod
    def _call_args(node: ast.Call) -> List[Union[ast.expr, ast.keyword]]:
        """Positional and keyword arguments in source order (`ast` lists them apart)."""
        merged: List[Union[ast.expr, ast.keyword]] = [*node.args, *node.keywords]
        if node.keywords and node.args:
            merged.sort(key=_position)
        return merged

    # --- the traversal -------------------------------------------------------

    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        try:
            method = self._methods[kind]
        except KeyError:
            method = self._methods[kind] = getattr(type(self), "visit_" + kind.__name__, None)
        if method is not None:
            method(self, node)
        else:
            self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        for child in _children(node):
            self.visit(child)

    def visit_body(self, statements: Sequence[ast.AST]) -> None:
        for statement in statements:
            self.visit(statement)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            bound = alias.asname or alias.name.split(".", 1)[0]
            self.imports.append(ImportFact(alias.name, (), self.scope, node.lineno, False, (bound,), self.optional_imports > 0, self.conditional_depth > 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = _from_module(node)
        if len(node.names) == 1 and node.names[0].name == "*":
            names: Tuple[str, ...] = ("*",)
            bound: Tuple[str, ...] = ("*",)
        else:
            names = tuple(alias.name for alias in node.names)
            bound = tuple(alias.asname or alias.name for alias in node.names)
        self.imports.append(ImportFact(module, names, self.scope, node.lineno, True, bound, self.optional_imports > 0, self.conditional_depth > 0))

    def visit_Try(self, node: ast.Try) -> None:
        optional = any(_catches_import_error(handler.type) for handler in node.handlers)
        self.optional_imports += optional
        self.conditional_depth += optional
        self.visit_body(node.body)
        self.optional_imports -= optional
        self.conditional_depth -= optional
        self.visit_body(node.handlers)
        self.visit_body(node.orelse)
        self.visit_body(node.finalbody)

    def _function(self, node: AnyFunction) -> None:
        decorators = []
        for decorator in node.decorator_list:
            self.visit(decorator)
            decorators.append((self.value(decorator), self.loc(decorator)))
        params = self._params(node.args)
        outer_kind = self.frame.kind
        class_qualname = self.frame.qualname if outer_kind == "class" else None
        if outer_kind == "class":
            self.frame.methods.append(node.name)
        qualname = self._qualname(node.name)
        def_scope = self.scope
        collected = _collect(self.source, node.body, node.args)
        frame = Frame("function", qualname, collected.bound, collected.imports, collected.globals)
        self.frames.append(frame)
        self.visit_body(node.body)
        self.frames.pop()
        self.functions.append(
            FunctionFact(
                name=node.name,
                qualname=qualname,
                loc=self.name_loc(node),
                decorators=tuple(decorators),
                params=params,
                returns=tuple(frame.returns),
                locals=tuple(frame.locals),
                class_qualname=class_qualname,
                scope=def_scope,
            )
        )

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def _params(self, args: ast.arguments) -> Tuple[ParamFact, ...]:
        positional = list(args.posonlyargs) + list(args.args)
        defaults: List[Optional[ast.expr]] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        result = []
        for index, arg in enumerate(positional):
            kind: ParamKind = "posonly" if index < len(args.posonlyargs) else "pos"
            result.append(self._param(arg, kind, defaults[index]))
        for arg, default in zip(args.kwonlyargs, args.kw_defaults):
            result.append(self._param(arg, "kwonly", default))
        if args.vararg is not None:
            result.append(self._param(args.vararg, "vararg", None))
        if args.kwarg is not None:
            result.append(self._param(args.kwarg, "varkw", None))
        return tuple(result)

    def _param(self, arg: ast.arg, kind: ParamKind, default: Optional[ast.expr]) -> ParamFact:
        if default is not None:
            self.visit(default)
        annotation = self.value(arg.annotation) if arg.annotation is not None else None
        return ParamFact(arg.arg, kind, default is not None, annotation)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = []
        arguments: List[Union[ast.expr, ast.keyword]] = [*node.bases, *node.keywords]
        arguments.sort(key=_position)
        for argument in arguments:
            self.visit(argument.value if isinstance(argument, (ast.keyword, ast.Starred)) else argument)
            if not isinstance(argument, (ast.keyword, ast.Starred)):
                bases.append(self.value(argument))
        for decorator in node.decorator_list:
            self.visit(decorator)
        qualname = self._qualname(node.name)
        scope = self.scope
        frame = Frame("class", qualname, set(), {})
        self.frames.append(frame)
        self.visit_body(node.body)
        self.frames.pop()
        self.classes.append(
            ClassFact(
                name=node.name,
                qualname=qualname,
                loc=self.name_loc(node),
                bases=tuple(bases),
                attributes=tuple(frame.attributes),
                methods=tuple(frame.methods),
                scope=scope,
            )
        )

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return None

    def _bind(self, name: str, value: Value, loc: Loc) -> None:
        frame = self.frame
        binding = Binding(name, value, loc, guarded=frame.branches > 0)
        if frame.kind == "module":
            self.globals.append(binding)
        elif name in frame.globals_declared:
            self.globals.append(Binding(name, value, loc, self.scope, binding.guarded))
        elif frame.kind == "class":
            frame.attributes.append(binding)
        else:
            frame.locals.append(binding)

    def _assign_target(self, target: ast.expr, value: Value) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, value, self.loc(target))
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            self.stores.append(StoreFact(self.value(target), value, self.loc(target), self.scope, self.frame.branches > 0))
            # The object stored into is read (a use), as in extract.py.
            self.visit(target.value)
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._assign_target(element, Opaque("unpack"))
        elif isinstance(target, ast.Starred):
            self._assign_target(target.value, Opaque("unpack"))

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        value = self.value(node.value)
        for target in node.targets:
            self._assign_target(target, value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._annotation(node.target, node.annotation)
        if node.value is None:
            return
        self.visit(node.value)
        self._assign_target(node.target, self.value(node.value))

    def _annotation(self, target: ast.expr, annotation: ast.expr) -> None:
        """A module global's annotation: a hint of what the name holds when its value is not known."""
        frame = self.frame
        if not isinstance(target, ast.Name) or not (frame.kind == "module" or target.id in frame.globals_declared):
            return
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, (str, bytes)) and self._literals(annotation) == 1:
            text = annotation.value if isinstance(annotation.value, str) else ""
            try:
                annotation = ast.parse(text.strip(), mode="eval").body
            except (SyntaxError, ValueError):
                return
            # A freed tree's node ids are reused by the next one: the memo would answer for it.
            self.parsed_annotations.append(annotation)
        self.annotations.append(Binding(target.id, self.value(annotation), self.loc(target), self.scope))

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        op = OPERATORS.get(type(node.op).__name__, type(node.op).__name__)
        value = BinOp(op, self.value(node.target), self.value(node.value))
        self._assign_target(node.target, value)

    def _for(self, node: Union[ast.For, ast.AsyncFor]) -> None:
        self.visit(node.iter)
        self._assign_target(node.target, IterItem(self.value(node.iter)))
        self.frame.branches += 1
        self.visit_body(node.body)
        self.visit_body(node.orelse)
        self.frame.branches -= 1

    visit_For = _for
    visit_AsyncFor = _for

    def _with(self, node: Union[ast.With, ast.AsyncWith]) -> None:
        pushed = managed = 0
        for item in node.items:
            expression = item.context_expr
            self.visit(expression)
            if item.optional_vars is not None:
                self._assign_target(item.optional_vars, self.value(expression))
            if isinstance(expression, ast.Call):
                self.frame.managers.append(self.value(expression.func))
                managed += 1
                if isinstance(expression.func, ast.Attribute) and expression.func.attr in CONTEXT_METHODS:
                    self.frame.contexts.append(self.value(expression.func.value))
                    pushed += 1
        suppressing = any(_suppresses_import_error(item.context_expr) for item in node.items)
        self.optional_imports += suppressing
        self.visit_body(node.body)
        self.optional_imports -= suppressing
        for _ in range(pushed):
            self.frame.contexts.pop()
        for _ in range(managed):
            self.frame.managers.pop()

    visit_With = _with
    visit_AsyncWith = _with

    def visit_If(self, node: ast.If) -> None:
        frame = self.frame
        frame.branches += 1
        if frame.kind == "module" and _is_main_test(node.test):
            self.visit(node.test)
            self.main_block = True
            self.visit_body(node.body)
            self.main_block = False
            self.visit_body(node.orelse)
        else:
            self.visit(node.test)
            self.conditional_depth += 1
            self.visit_body(node.body)
            self.visit_body(node.orelse)
            self.conditional_depth -= 1
        frame.branches -= 1

    def _branch(self, node: ast.AST) -> None:
        """Blocks that may not run: what they bind, store or call is `guarded`."""
        frame = self.frame
        frame.branches += 1
        self.generic_visit(node)
        frame.branches -= 1

    visit_While = _branch
    visit_match_case = _branch

    def visit_Return(self, node: ast.Return) -> None:
        frame = self._function_frame()
        if frame is not None and node.value is not None:
            frame.returns.append(self.value(node.value))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        value = self.value(node)
        assert isinstance(value, Call)
        arg_locs: Tuple[Tuple[str, Loc], ...] = ()
        if isinstance(node.func, ast.Attribute) and node.func.attr in TASK_CALL_METHODS:
            arg_locs = self._arg_locs(node)
        elif _called_name(node.func) in CONFIG_CALLS:
            # where each keyword is written, to report a misspelled setting at its name
            arg_locs = tuple((str(k.arg), self._keyword_loc(k)) for k in node.keywords if k.arg is not None)
        self.calls.append(
            CallFact(value, self.loc(node), self.scope, self._contexts(), arg_locs, self._managers(), self.frame.branches > 0)
        )
        func = value.func
        if isinstance(func, Ref) and func.scope in ("import", "builtin"):
            self._importing_call(func.path, value)
        self.visit(node.func)
        for arg in self._call_args(node):
            self.visit(arg.value if isinstance(arg, (ast.keyword, ast.Starred)) else arg)

    def _keyword_loc(self, keyword: ast.keyword) -> Loc:
        start = self.source.offset(keyword.lineno, self.source.column(keyword.lineno, keyword.col_offset))
        return self._span(start, start + len(str(keyword.arg)))

    def _arg_locs(self, node: ast.Call) -> Tuple[Tuple[str, Loc], ...]:
        result = []
        position = 0
        for arg in self._call_args(node):
            if isinstance(arg, ast.Starred) or (isinstance(arg, ast.keyword) and arg.arg is None):
                continue
            if isinstance(arg, ast.keyword):
                result.append((str(arg.arg), self.loc(arg.value)))
            else:
                result.append((str(position), self.loc(arg)))
                position += 1
        return tuple(result)

    def _use(self, dotted: str, loc_of: "ast.AST | Loc") -> None:
        if self._function_frame() is None:
            return
        ref = self.qualify(dotted)
        if ref.scope == "builtin" and not (self.star_import and ref.root not in BUILTIN_NAMES):
            return
        if ref.scope == "local" and not ("." in dotted and ref.last in RESULT_ATTRS):
            return
        contexts = self._contexts()
        in_request = any(last_name(manager) in REQUEST_CONTEXT_METHODS for manager in self._managers())
        key = (self.scope, ref.path + ref.scope, contexts, in_request)
        if key not in self.uses:
            loc = loc_of if isinstance(loc_of, Loc) else self.loc(loc_of)
            self.uses[key] = UseFact(ref, loc, self.scope, contexts, in_request)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = dotted_name(node)
        if dotted is not None:
            self._use(dotted, node)
            return
        self.visit(node.value)
        self._use(node.attr, self.attr_loc(node))  # libcst visits the attribute's Name too

    def visit_Name(self, node: ast.Name) -> None:
        self._use(node.id, node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, item in zip(node.keys, node.values):  # source order: key, value, key, value
            if key is not None:
                self.visit(key)
            self.visit(item)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.body)  # `body if test else orelse`, in source order
        self.visit(node.test)
        self.visit(node.orelse)

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self.visit(node.key)
        self.visit(node.value)
        for generator in node.generators:
            self.visit(generator)

    def visit_keyword(self, node: ast.keyword) -> None:
        self.visit(node.value)

    def _names_statement(self, node: Union[ast.Global, ast.Nonlocal]) -> None:
        # libcst visits the Name of each declared name.
        start = self.source.offset(node.lineno, self.source.column(node.lineno, node.col_offset))
        end = self.source.offset(node.end_lineno or node.lineno, self.source.column(node.end_lineno or node.lineno, node.end_col_offset or 0))
        position = start
        for name in node.names:
            match = re.compile(rf"(?<![\w]){re.escape(name)}(?![\w])").search(self.source.text, position + 1, end)
            if match is None:
                continue
            position = match.end()
            self._use(name, self._span(match.start(), match.end()))

    visit_Global = _names_statement
    visit_Nonlocal = _names_statement

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        frame = self.frame
        frame.branches += 1
        if node.type is not None:
            self.visit(node.type)
        if node.name is not None and node.type is not None:
            after = self.source.offset(node.type.end_lineno or node.lineno, self.source.column(node.type.end_lineno or node.lineno, node.type.end_col_offset or 0))
            match = re.compile(rf"\)*\s*as\s+({re.escape(node.name)})\b").match(self.source.text, after)
            if match is not None:
                self._use(node.name, self._span(match.start(1), match.end(1)))
        self.visit_body(node.body)
        frame.branches -= 1


def extract_facts_ast(tree: ast.Module, text: str) -> ModuleFacts:
    extractor = AstFactExtractor(tree, Source(text))
    extractor.visit_body(tree.body)
    return extractor.facts()


__all__ = ["extract_facts_ast"]
