"""One libcst traversal that turns a parsed module into ModuleFacts."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from celerylint.facts.types import (
    IMPORT_ERRORS,
    ParamKind,
    RESULT_ATTRS,
    MODULE_SCOPE,
    Binding,
    BinOp,
    Call,
    CallFact,
    ClassFact,
    FunctionFact,
    ImportFact,
    IterItem,
    Loc,
    ModuleFacts,
    Opaque,
    ParamFact,
    Ref,
    StoreFact,
    UseFact,
    Value,
    last_name,
)
from celerylint.facts.common import (
    BUILTIN_NAMES,
    CONTEXT_METHODS,
    CONFIG_CALLS,
    REQUEST_CONTEXT_METHODS,
    TASK_CALL_METHODS,
    Frame,
    Scopes,
    join,
)
from celerylint.facts.values import ValueBuilder, dotted_name

class _BindingCollector(cst.CSTVisitor):
    """Names bound directly in one scope (not in nested functions or classes)."""

    def __init__(self) -> None:
        self.bound: Set[str] = set()
        self.globals: Set[str] = set()
        self.imports: Dict[str, str] = {}

    def _target(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Name):
            self.bound.add(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            for element in node.elements:
                self._target(element.value)
        elif isinstance(node, cst.StarredElement):
            self._target(node.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.bound.add(node.name.value)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.bound.add(node.name.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._target(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._target(node.asname.name)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._target(node.name.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._target(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        # A comprehension's variable is its own scope's; taking it as the enclosing scope's local
        # keeps `[s.get(k) for s in sessions]` from reading as an imported `session`, at the cost
        # of a same-named global read elsewhere in the function looking local (unknown, silent).
        self._target(node.target)

    def visit_Global(self, node: cst.Global) -> None:
        self.globals.update(item.name.value for item in node.names)

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            module = dotted_name(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.imports[alias.asname.name.value] = module
            else:
                root = module.split(".", 1)[0]
                self.imports[root] = root
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if isinstance(node.names, cst.ImportStar):
            return False
        module = _from_module(node)
        for alias in node.names:
            name = dotted_name(alias.name) or ""
            bound = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                bound = alias.asname.name.value
            self.imports[bound] = join(module, name)
        return False


def _asname(alias: cst.ImportAlias) -> Optional[str]:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return None


def _from_module(node: cst.ImportFrom) -> str:
    dots = "." * len(node.relative)
    module = dotted_name(node.module) if node.module is not None else ""
    return dots + (module or "")


def _collect(body: Sequence[cst.CSTNode], params: Optional[cst.Parameters] = None) -> _BindingCollector:
    collector = _BindingCollector()
    if params is not None:
        for param in _all_params(params):
            collector.bound.add(param.name.value)
    for statement in body:
        statement.visit(collector)
    collector.bound -= collector.globals
    for name in collector.imports:
        collector.bound.discard(name)
    return collector


def _all_params(params: cst.Parameters) -> List[cst.Param]:
    result = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            result.append(star)
    return result


def _called_name(func: cst.BaseExpression) -> str:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""


class FactExtractor(Scopes, cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, module: cst.Module) -> None:
        super().__init__()
        top = _collect(module.body)
        self.frames: List[Frame] = [Frame("module", MODULE_SCOPE, top.bound, top.imports)]
        self.main_block = False
        self.conditional_depth = 0  # enclosing `if` bodies and ImportError-catching `try` bodies
        self.imports: List[ImportFact] = []
        self.globals: List[Binding] = []
        self.functions: List[FunctionFact] = []
        self.classes: List[ClassFact] = []
        self.calls: List[CallFact] = []
        self.stores: List[StoreFact] = []
        self.annotations: List[Binding] = []
        self.uses: Dict[Tuple[str, str, Tuple[Value, ...], bool], UseFact] = {}
        self.dynamic_scopes: Set[str] = set()
        self.value_memo: Dict[int, Value] = {}  # by node identity: every node must outlive the walk
        self.parsed_annotations: List[cst.BaseExpression] = []  # string annotations' trees, kept for that
        self.interned: Dict[object, Value] = {}
        self.optional_imports = 0  # depth of blocks whose failed imports are caught
        # `from x import *` at module level: an unbound name may come from there.
        self.star_import = any(
            isinstance(statement, cst.SimpleStatementLine)
            and any(isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar) for small in statement.body)
            for statement in module.body
        )

    # --- scopes and names -------------------------------------------------

    def value(self, node: cst.BaseExpression) -> Value:
        return ValueBuilder(self.qualify, self.value_memo).build(node)

    def loc(self, node: cst.CSTNode) -> Loc:
        pos = self.get_metadata(PositionProvider, node)
        return Loc(pos.start.line, pos.start.column + 1, pos.end.line, pos.end.column + 1)

    # --- imports ----------------------------------------------------------

    def visit_Import(self, node: cst.Import) -> bool:
        line = self.loc(node).line
        for alias in node.names:
            module = dotted_name(alias.name) or ""
            bound = _asname(alias) or module.split(".", 1)[0]
            self.imports.append(ImportFact(module, (), self.scope, line, False, (bound,), self.optional_imports > 0, self.conditional_depth > 0))
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        line = self.loc(node).line
        module = _from_module(node)
        if isinstance(node.names, cst.ImportStar):
            names: Tuple[str, ...] = ("*",)
            bound: Tuple[str, ...] = ("*",)
        else:
            names = tuple(dotted_name(alias.name) or "" for alias in node.names)
            bound = tuple(_asname(alias) or name for alias, name in zip(node.names, names))
        self.imports.append(ImportFact(module, names, self.scope, line, True, bound, self.optional_imports > 0, self.conditional_depth > 0))
        return False

    def visit_Try(self, node: cst.Try) -> bool:
        optional = any(_catches_import_error(handler.type) for handler in node.handlers)
        self.optional_imports += optional
        self.conditional_depth += optional
        node.body.visit(self)
        self.optional_imports -= optional
        self.conditional_depth -= optional
        for handler in node.handlers:
            handler.visit(self)
        for block in (node.orelse, node.finalbody):
            if block is not None:
                block.visit(self)
        return False

    # --- definitions ------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        decorators = []
        for decorator in node.decorators:
            decorator.decorator.visit(self)
            decorators.append((self.value(decorator.decorator), self.loc(decorator.decorator)))
        params = self._params(node.params)
        outer_kind = self.frame.kind
        class_qualname = self.frame.qualname if outer_kind == "class" else None
        if outer_kind == "class":
            self.frame.methods.append(node.name.value)
        qualname = self._qualname(node.name.value)
        def_scope = self.scope
        collected = _collect([node.body], node.params)
        frame = self._visit_in_frame(
            Frame("function", qualname, collected.bound, collected.imports, collected.globals), node.body
        )
        self.functions.append(
            FunctionFact(
                name=node.name.value,
                qualname=qualname,
                loc=self.loc(node.name),
                decorators=tuple(decorators),
                params=params,
                returns=tuple(frame.returns),
                locals=tuple(frame.locals),
                class_qualname=class_qualname,
                scope=def_scope,
            )
        )
        return False

    def _visit_in_frame(self, frame: Frame, body: cst.BaseSuite) -> Frame:
        self.frames.append(frame)
        body.visit(self)
        self.frames.pop()
        return frame

    def _params(self, params: cst.Parameters) -> Tuple[ParamFact, ...]:
        result = []
        groups: Tuple[Tuple[ParamKind, Sequence[cst.Param]], ...] = (
            ("posonly", params.posonly_params),
            ("pos", params.params),
            ("kwonly", params.kwonly_params),
        )
        for kind, group in groups:
            for param in group:
                result.append(self._param(param, kind))
        if isinstance(params.star_arg, cst.Param):
            result.append(self._param(params.star_arg, "vararg"))
        if isinstance(params.star_kwarg, cst.Param):
            result.append(self._param(params.star_kwarg, "varkw"))
        return tuple(result)

    def _param(self, param: cst.Param, kind: ParamKind) -> ParamFact:
        if param.default is not None:
            param.default.visit(self)
        annotation = None
        if param.annotation is not None:
            annotation = self.value(param.annotation.annotation)
        return ParamFact(param.name.value, kind, param.default is not None, annotation)

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        bases = []
        for arg in node.bases:
            arg.value.visit(self)
            if arg.keyword is None and not arg.star:
                bases.append(self.value(arg.value))
        for decorator in node.decorators:
            decorator.decorator.visit(self)
        qualname = self._qualname(node.name.value)
        scope = self.scope
        frame = self._visit_in_frame(Frame("class", qualname, set(), {}), node.body)
        self.classes.append(
            ClassFact(
                name=node.name.value,
                qualname=qualname,
                loc=self.loc(node.name),
                bases=tuple(bases),
                attributes=tuple(frame.attributes),
                methods=tuple(frame.methods),
                scope=scope,
            )
        )
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    # --- bindings and stores ----------------------------------------------

    def _bind(self, name: str, value: Value, node: cst.CSTNode) -> None:
        frame = self.frame
        binding = Binding(name, value, self.loc(node), guarded=frame.branches > 0)
        if frame.kind == "module":
            self.globals.append(binding)
        elif name in frame.globals_declared:
            self.globals.append(Binding(name, value, binding.loc, self.scope, binding.guarded))
        elif frame.kind == "class":
            frame.attributes.append(binding)
        else:
            frame.locals.append(binding)

    def _assign_target(self, target: cst.BaseExpression, value: Value, node: cst.CSTNode) -> None:
        if isinstance(target, cst.Name):
            self._bind(target.value, value, target)
        elif isinstance(target, (cst.Attribute, cst.Subscript)):
            self.stores.append(StoreFact(self.value(target), value, self.loc(target), self.scope, self.frame.branches > 0))
            # `session["k"] = v`, `g.user = u`: the object stored into is read (a use); the
            # attribute or item being written is not.
            target.value.visit(self)
            if isinstance(target, cst.Subscript):
                for index in target.slice:
                    index.visit(self)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._assign_target(element.value, Opaque("unpack"), node)
        elif isinstance(target, cst.StarredElement):
            self._assign_target(target.value, Opaque("unpack"), node)

    def visit_Assign(self, node: cst.Assign) -> bool:
        node.value.visit(self)
        value = self.value(node.value)
        for target in node.targets:
            self._assign_target(target.target, value, node)
        return False

    def visit_AnnAssign(self, node: cst.AnnAssign) -> bool:
        self._annotation(node.target, node.annotation.annotation)
        if node.value is None:
            return False
        node.value.visit(self)
        self._assign_target(node.target, self.value(node.value), node)
        return False

    def _annotation(self, target: cst.BaseExpression, annotation: cst.BaseExpression) -> None:
        """A module global's annotation: a hint of what the name holds when its value is not known."""
        frame = self.frame
        if not isinstance(target, cst.Name) or not (frame.kind == "module" or target.value in frame.globals_declared):
            return
        if isinstance(annotation, cst.SimpleString):
            try:
                annotation = cst.parse_expression(annotation.evaluated_value if isinstance(annotation.evaluated_value, str) else "")
            except cst.ParserSyntaxError:
                return
            # A freed tree's node ids are reused by the next one: the memo would answer for it.
            self.parsed_annotations.append(annotation)
        self.annotations.append(Binding(target.value, self.value(annotation), self.loc(target), self.scope))

    def visit_AugAssign(self, node: cst.AugAssign) -> bool:
        node.value.visit(self)
        op = type(node.operator).__name__.replace("Assign", "")
        value = BinOp(op, self.value(node.target), self.value(node.value))
        self._assign_target(node.target, value, node)
        return False

    def visit_For(self, node: cst.For) -> bool:
        node.iter.visit(self)
        self._assign_target(node.target, IterItem(self.value(node.iter)), node)
        self.frame.branches += 1
        node.body.visit(self)
        if node.orelse is not None:
            node.orelse.visit(self)
        self.frame.branches -= 1
        return False

    def visit_With(self, node: cst.With) -> bool:
        pushed = managed = 0
        for item in node.items:
            item.item.visit(self)
            expression = item.item
            if item.asname is not None:
                self._assign_target(item.asname.name, self.value(expression), item)
            if isinstance(expression, cst.Call):
                self.frame.managers.append(self.value(expression.func))
                managed += 1
                if isinstance(expression.func, cst.Attribute) and expression.func.attr.value in CONTEXT_METHODS:
                    self.frame.contexts.append(self.value(expression.func.value))
                    pushed += 1
        suppressing = any(_suppresses_import_error(item.item) for item in node.items)
        self.optional_imports += suppressing
        node.body.visit(self)
        self.optional_imports -= suppressing
        for _ in range(pushed):
            self.frame.contexts.pop()
        for _ in range(managed):
            self.frame.managers.pop()
        return False

    # Blocks that may not run: what they bind or call is `guarded` (libcst calls leave_X even
    # when visit_X returned False, so the counts always balance).
    def visit_While(self, node: cst.While) -> None:
        self.frame.branches += 1

    def leave_While(self, original_node: cst.While) -> None:
        self.frame.branches -= 1

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.frame.branches += 1

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler) -> None:
        self.frame.branches -= 1

    def visit_MatchCase(self, node: cst.MatchCase) -> None:
        self.frame.branches += 1

    def leave_MatchCase(self, original_node: cst.MatchCase) -> None:
        self.frame.branches -= 1

    def leave_If(self, original_node: cst.If) -> None:
        self.frame.branches -= 1

    def visit_If(self, node: cst.If) -> bool:
        self.frame.branches += 1
        if self.frame.kind == "module" and _is_main_test(node.test):
            node.test.visit(self)
            self.main_block = True
            node.body.visit(self)
            self.main_block = False
            if node.orelse is not None:
                node.orelse.visit(self)
            return False
        node.test.visit(self)
        self.conditional_depth += 1
        node.body.visit(self)
        if node.orelse is not None:
            node.orelse.visit(self)
        self.conditional_depth -= 1
        return False

    def visit_Return(self, node: cst.Return) -> None:
        frame = self._function_frame()
        if frame is not None and node.value is not None:
            frame.returns.append(self.value(node.value))

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    # --- calls and uses ---------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        value = self.value(node)
        assert isinstance(value, Call)
        arg_locs: Tuple[Tuple[str, Loc], ...] = ()
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in TASK_CALL_METHODS:
            arg_locs = self._arg_locs(node)
        elif _called_name(node.func) in CONFIG_CALLS:
            # where each keyword is written, to report a misspelled setting at its name
            arg_locs = tuple((arg.keyword.value, self.loc(arg.keyword)) for arg in node.args if arg.keyword is not None)
        self.calls.append(
            CallFact(value, self.loc(node), self.scope, self._contexts(), arg_locs, self._managers(), self.frame.branches > 0)
        )
        func = value.func
        if isinstance(func, Ref) and func.scope in ("import", "builtin"):
            self._importing_call(func.path, value)

    def _arg_locs(self, node: cst.Call) -> Tuple[Tuple[str, Loc], ...]:
        result = []
        position = 0
        for arg in node.args:
            if arg.star:
                continue
            if arg.keyword is not None:
                result.append((arg.keyword.value, self.loc(arg.value)))
            else:
                result.append((str(position), self.loc(arg.value)))
                position += 1
        return tuple(result)

    def _use(self, dotted: str, node: cst.CSTNode) -> None:
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
            self.uses[key] = UseFact(ref, self.loc(node), self.scope, contexts, in_request)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        dotted = dotted_name(node)
        if dotted is None:
            return True
        self._use(dotted, node)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self._use(node.value, node)


def _catches_import_error(kind: Optional[cst.BaseExpression]) -> bool:
    """`except:`, `except ImportError`, `except (ImportError, X)`, `except Exception`."""
    if kind is None:
        return True
    if isinstance(kind, cst.Tuple):
        return any(_catches_import_error(element.value) for element in kind.elements)
    name = dotted_name(kind)
    return name is not None and name.rsplit(".", 1)[-1] in IMPORT_ERRORS


def _suppresses_import_error(expression: cst.BaseExpression) -> bool:
    """`suppress(ImportError)`, `contextlib.suppress(ModuleNotFoundError, ...)`."""
    if not isinstance(expression, cst.Call):
        return False
    name = dotted_name(expression.func)
    if name is None or name.rsplit(".", 1)[-1] != "suppress":
        return False
    return any(_catches_import_error(arg.value) for arg in expression.args)


def _is_main_test(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    sides = [test.left, test.comparisons[0].comparator]
    names = [s for s in sides if isinstance(s, cst.Name) and s.value == "__name__"]
    strings = [s for s in sides if isinstance(s, cst.SimpleString) and "__main__" in s.value]
    return bool(names) and bool(strings)


def extract_facts(module: cst.Module) -> ModuleFacts:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    extractor = FactExtractor(module)
    wrapper.visit(extractor)
    return extractor.facts()


__all__ = ["extract_facts"]
