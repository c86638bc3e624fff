"""Cheap facts from files that need no detailed analysis: an `ast` scan of imports, classes and
top-level assignments, and for files too large to parse a line scan of their imports."""

from __future__ import annotations

import ast
import re
from typing import Dict, List, Optional, Set, Tuple

from celerylint.facts.types import (
    IMPORT_ERRORS,
    MODULE_SCOPE,
    Binding,
    ClassFact,
    Const,
    ImportFact,
    Loc,
    ModuleFacts,
    Opaque,
    Ref,
    Value,
)

# Statements holding other statements (the rest hold none: no need to look inside them).
COMPOUND_TYPES = frozenset(
    getattr(ast, name) for name in ("If", "For", "AsyncFor", "While", "With", "AsyncWith", "Try", "TryStar", "Match") if hasattr(ast, name)
)
SCOPES = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})
# The statements _assigned_names reads names from (the others bind none it counts).
BINDING_STATEMENTS = frozenset({ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor, ast.With, ast.AsyncWith})

IMPORT_STATEMENT = re.compile(
    rb"^(?P<indent>[ \t]*)(?:from[ \t]+(?P<module>\.*[\w.]*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#;]*)"
    rb"|import[ \t]+(?P<plain>[^\n#;]*))",
    re.MULTILINE,
)


def scan_import_lines(data: bytes) -> ModuleFacts:
    """Imports read line by line from a file too large to parse (generated code, in linear time).
    Approximate: an import written inside a string counts too, which only adds to what the
    module is thought to import (a worker's closure grows; nothing is reported for it)."""
    imports: List[ImportFact] = []
    # Continuations become spaces of the same length: offsets, and so line numbers, stay true.
    joined = data.replace(b"\\\r\n", b"   ").replace(b"\\\n", b"  ")
    for match in IMPORT_STATEMENT.finditer(joined):
        line = data.count(b"\n", 0, match.start()) + 1
        scope = MODULE_SCOPE if not match.group("indent") else "<nested>"
        if match.group("plain") is not None:
            for part in match.group("plain").decode("utf-8", "replace").split(","):
                words = part.split()
                if words and all(piece.isidentifier() for piece in words[0].split(".")):
                    bound = words[-1] if len(words) == 3 and words[1] == "as" else words[0].split(".")[0]
                    imports.append(ImportFact(words[0], (), scope, line, False, (bound,)))
            continue
        module = match.group("module").decode("utf-8", "replace")
        names, bound_names = [], []
        listed = re.sub(rb"#[^\n]*", b"", match.group("names")).decode("utf-8", "replace")
        for part in listed.strip("()").split(","):
            words = part.split()
            if words and (words[0].isidentifier() or words[0] == "*"):
                names.append(words[0])
                bound_names.append(words[-1] if len(words) == 3 and words[1] == "as" else words[0])
        imports.append(ImportFact(module, tuple(names), scope, line, True, tuple(bound_names)))
    return ModuleFacts(imports=tuple(imports), defined_names=("*",))  # its other names are not known


def scan_imports(tree: ast.Module) -> ModuleFacts:
    """Imports at any depth and top-level classes, from an `ast` tree."""
    imports: List[ImportFact] = []
    aliases = {}
    classes: List[ClassFact] = []
    defined: Set[str] = set()  # every name bound at module level, for "does the module have X"
    # Each block with its scope and whether a failed import in it is caught (`try`/`except ImportError`).
    stack: List[Tuple[List[ast.stmt], str, bool]] = [(tree.body, MODULE_SCOPE, False)]
    while stack:
        body, scope, optional = stack.pop()
        at_module = scope == MODULE_SCOPE
        for node in body:
            # Dispatch on the exact node type: this loop sees every statement of every file.
            kind = type(node)
            if kind is ast.Import:
                assert isinstance(node, ast.Import)
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    imports.append(ImportFact(alias.name, (), scope, node.lineno, False, (bound,), optional))
                    if at_module:
                        aliases[bound] = alias.name if alias.asname else bound
            elif kind is ast.ImportFrom:
                assert isinstance(node, ast.ImportFrom)
                module = "." * node.level + (node.module or "")
                names = tuple(alias.name for alias in node.names)
                bound_names = tuple(alias.asname or alias.name for alias in node.names)
                imports.append(ImportFact(module, names, scope, node.lineno, True, bound_names, optional))
                if at_module:
                    for alias in node.names:
                        joined = module + alias.name if module.endswith(".") or not module else f"{module}.{alias.name}"
                        aliases[alias.asname or alias.name] = joined
            elif kind in SCOPES:
                assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                stack.append((node.body, _inner_scope(scope, node.name), False))
                if at_module:
                    defined.add(node.name)
            elif kind in COMPOUND_TYPES:
                guarded = _guarded_body(node)
                for child_body in _child_bodies(node):
                    stack.append((child_body, scope, optional or child_body is guarded))
            if at_module and kind in BINDING_STATEMENTS:
                defined.update(_assigned_names(node))
    globals_: List[Binding] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = tuple(ref for ref in (_base_ref(base, aliases) for base in node.bases) if ref)
            loc = Loc(node.lineno, node.col_offset + 1, node.lineno, node.col_offset + 1)
            attributes = tuple(_bindings(node.body))
            # Method names too: `__json__` decides whether kombu's JSON encodes an instance.
            methods = tuple(item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)))
            classes.append(ClassFact(node.name, node.name, loc, bases, attributes, methods))
    globals_.extend(_bindings(tree.body))
    defined.update(bound for fact in imports if fact.scope == MODULE_SCOPE for bound in fact.bound)
    return ModuleFacts(
        imports=tuple(imports), globals=tuple(globals_), classes=tuple(classes), detailed=False, defined_names=tuple(sorted(defined))
    )


def _assigned_names(node: ast.stmt) -> List[str]:
    """Plain names a module-level statement binds (`x = ...`, `x: T = ...`, `for x in ...`, `with ... as x`)."""
    targets: List[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
        targets = [node.target]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
    names: List[str] = []
    for target in targets:
        names.extend(child.id for child in ast.walk(target) if isinstance(child, ast.Name))
    return names


def _bindings(body: List[ast.stmt]) -> List[Binding]:
    """Names a block assigns, with literal values kept: enough for a config module or class."""
    result = []
    for node in body:
        targets: List[ast.expr] = []
        value: Optional[ast.expr] = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name):
                loc = Loc(target.lineno, target.col_offset + 1, target.lineno, target.col_offset + 1)
                result.append(Binding(target.id, _literal(value), loc))
    return result


# One object for every value the scan does not follow: the cache pickles it once per file.
UNSCANNED = Opaque("unscanned")


def _literal(node: Optional[ast.expr]) -> Value:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes, int, float, bool, type(None))):
        return Const(node.value)
    return UNSCANNED


def _inner_scope(scope: str, name: str) -> str:
    return f"{scope}.{name}" if scope else name


def _catches_import_error(kind: Optional[ast.expr]) -> bool:
    if kind is None:
        return True
    if isinstance(kind, ast.Tuple):
        return any(_catches_import_error(element) for element in kind.elts)
    name = kind.attr if isinstance(kind, ast.Attribute) else kind.id if isinstance(kind, ast.Name) else None
    return name in IMPORT_ERRORS


def _guarded_body(node: ast.stmt) -> Optional[List[ast.stmt]]:
    """The block of `node` whose failed imports are caught: a `try` body with an `except
    ImportError` (or broader) handler, or a `with suppress(ImportError):` body."""
    if isinstance(node, ast.Try) and any(_catches_import_error(handler.type) for handler in node.handlers):
        return node.body
    if isinstance(node, ast.With):
        for item in node.items:
            call = item.context_expr
            if isinstance(call, ast.Call) and getattr(call.func, "attr", getattr(call.func, "id", None)) == "suppress":
                if any(_catches_import_error(arg) for arg in call.args):
                    return node.body
    return None


def _child_bodies(node: ast.stmt) -> List[List[ast.stmt]]:
    bodies = []
    for name in ("body", "orelse", "finalbody"):
        body = getattr(node, name, None)
        if isinstance(body, list):
            bodies.append(body)
    for handler in getattr(node, "handlers", []) or []:
        bodies.append(handler.body)
    for case in getattr(node, "cases", []) or []:
        bodies.append(case.body)
    return bodies


def dotted_name(node: ast.expr) -> Optional[str]:
    """`a.b.c` for a name or a chain of attributes on one, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _base_ref(node: ast.expr, aliases: Dict[str, str]) -> Optional[Ref]:
    dotted = dotted_name(node)
    if dotted is None:
        return None
    root, _, rest = dotted.partition(".")
    if root in aliases:
        target = aliases[root]
        return Ref("import", f"{target}.{rest}" if rest else target)
    return Ref("global", dotted)
