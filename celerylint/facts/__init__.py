"""Per-file fact extraction: bytes in, ModuleFacts out (pure, picklable)."""

from __future__ import annotations

import ast
import re
import sys
import threading
import warnings
from contextlib import contextmanager
from dataclasses import replace
from typing import Callable, Dict, Iterator, List, Optional, Tuple, TypeVar

from celerylint.facts.types import (
    MODULE_SCOPE,
    Binding,
    Const,
    Opaque,
    Value,
    ClassFact,
    ImportFact,
    Loc,
    ModuleFacts,
    Ref,
    SyntaxErrorFact,
)

# A file that matches none of these contributes only its imports and top-level
# classes, which `ast` gives ten times faster than libcst.
RELEVANT = re.compile(
    rb"[Cc]elery|CELERY|shared_task|\.task\b|\.delay\b|apply_async|AsyncResult|[Ff]lask|broker_|"
    rb"result_backend|_time_limit|task_serializer|accept_content|INSTALLED_APPS|"
    rb"DJANGO_SETTINGS_MODULE|import_modules|app_context|^[ \t]*(?:imports|include)\s*=",
    re.MULTILINE,
)
LIBCST_POSITION = re.compile(r"error at (\d+):(\d+)")
# libcst's native parser overflows the default thread stack on deep nesting (SIGSEGV).
PARSER_STACK_BYTES = 512 * 1024 * 1024
# libcst's visitors recurse a few Python frames per nesting level, so the default limit (1000)
# is reached by valid code: a 322-branch elif chain, a 323-term `+` chain, a list nested 139 deep.
# The deepest nesting `ast` accepts needs under 20,000; the big stack holds well over 100,000.
PARSER_RECURSION_LIMIT = 50_000

T = TypeVar("T")


# Work per file is bounded so that no file costs more than a few seconds or a few hundred MB
# (measured on dense Celery code: libcst with positions about 18 s and 850 MB a MB, `ast` about
# 0.9 s and 180 MB a MB). Past MAX_DETAILED_BYTES a relevant file gets the `ast` scan (imports,
# classes, top-level assignments); past MAX_PARSED_BYTES only a line scan of its imports.
MAX_DETAILED_BYTES = 256_000
MAX_PARSED_BYTES = 2_000_000
IMPORT_STATEMENT = re.compile(
    rb"^(?P<indent>[ \t]*)(?:from[ \t]+(?P<module>\.*[\w.]*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#;]*)"
    rb"|import[ \t]+(?P<plain>[^\n#;]*))",
    re.MULTILINE,
)


def facts_from_bytes(data: bytes) -> ModuleFacts:
    """Facts for one file's content. Never raises for bad input."""
    facts = _facts(data)
    if facts.syntax_error is not None and RELEVANT.search(data):
        return replace(facts, relevant=True)
    return facts


def _facts(data: bytes) -> ModuleFacts:
    if b"\x00" in data:
        return _error("file contains null bytes (binary file?)", 1, 1)
    if len(data) > MAX_PARSED_BYTES:
        return scan_import_lines(data)
    ast_error: Optional[ModuleFacts] = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings of the analysed code are not ours to print
            tree: Optional[ast.Module] = ast.parse(data)
    except SyntaxError as error:
        tree = None
        message = error.msg or "invalid syntax"
        ast_error = _error(f"syntax error: {message}", error.lineno or 1, error.offset or 1)
        if "too many" in message:  # a CPython limit (nesting, indentation): no grammar lifts it
            return ast_error
    except (ValueError, UnicodeError) as error:
        return _error(f"cannot decode file: {error}", 1, 1)
    except (RecursionError, MemoryError):
        return _error("too deeply nested to parse", 1, 1)
    if tree is not None and (len(data) > MAX_DETAILED_BYTES or not RELEVANT.search(data)):
        return scan_imports(tree)
    # The running interpreter's grammar may be older than the file's (PEP 695 on 3.11):
    # libcst, which parses current syntax, decides; CPython's message is the clearer one.
    facts = _run_with_big_stack(lambda: _detailed_facts(data))
    if facts.syntax_error is not None and ast_error is not None:
        return ast_error
    if facts.syntax_error is not None and tree is not None:
        # CPython accepts the file, libcst does not (its parser gives up on some valid extremes,
        # e.g. thousands of implicitly concatenated strings): no syntax error, the cheap scan.
        return scan_imports(tree)
    return facts


_LIMIT_LOCK = threading.Lock()
_limit_users = 0
_saved_limit = 0


@contextmanager
def _deep_recursion() -> Iterator[None]:
    """Raise the recursion limit while parse threads (big stacks) run; restore it after the last."""
    global _limit_users, _saved_limit
    with _LIMIT_LOCK:
        if _limit_users == 0:
            _saved_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_saved_limit, PARSER_RECURSION_LIMIT))
        _limit_users += 1
    try:
        yield
    finally:
        with _LIMIT_LOCK:
            _limit_users -= 1
            if _limit_users == 0:
                sys.setrecursionlimit(_saved_limit)


def _detailed_facts(data: bytes) -> ModuleFacts:
    with _deep_recursion():
        return _detailed_facts_deep(data)


def _detailed_facts_deep(data: bytes) -> ModuleFacts:
    import libcst

    from celerylint.facts.extract import extract_facts

    try:
        module = libcst.parse_module(data)
    except libcst.ParserSyntaxError as error:
        match = LIBCST_POSITION.search(error.message)
        line, col = (int(match.group(1)), int(match.group(2))) if match else (error.raw_line, 1)
        return _error(f"syntax error: {_first_line(error.message)}", line, col)
    except SyntaxError as error:
        return _error(f"syntax error: {error.msg or 'invalid syntax'}", error.lineno or 1, error.offset or 1)
    except (ValueError, UnicodeError) as error:
        return _error(f"cannot decode file: {error}", 1, 1)
    except RecursionError:
        return _error("too deeply nested to parse", 1, 1)
    try:
        return extract_facts(module)
    except RecursionError:
        return _error("too deeply nested to analyse", 1, 1)


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "invalid syntax"


def _error(message: str, line: int, col: int) -> ModuleFacts:
    return ModuleFacts(syntax_error=SyntaxErrorFact(message, max(line, 1), max(col, 1)))


def _run_with_big_stack(work: Callable[[], T]) -> T:
    """Run ``work`` in a thread whose stack survives libcst's deepest recursion."""
    box: List[Tuple[bool, object]] = []

    def target() -> None:
        try:
            box.append((True, work()))
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller
            box.append((False, error))

    previous = threading.stack_size(PARSER_STACK_BYTES)
    try:
        thread = threading.Thread(target=target, name="celerylint-parse")
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    ok, result = box[0]
    if not ok:
        raise result  # type: ignore[misc]
    return result  # type: ignore[return-value]


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
    return ModuleFacts(imports=tuple(imports))


def scan_imports(tree: ast.Module) -> ModuleFacts:
    """Imports at any depth and top-level classes, from an `ast` tree."""
    imports: List[ImportFact] = []
    aliases = {}
    classes: List[ClassFact] = []
    stack: List[Tuple[List[ast.stmt], str]] = [(tree.body, MODULE_SCOPE)]
    while stack:
        body, scope = stack.pop()
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    imports.append(ImportFact(alias.name, (), scope, node.lineno, False, (bound,)))
                    if scope == MODULE_SCOPE:
                        aliases[bound] = alias.name if alias.asname else bound
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                names = tuple(alias.name for alias in node.names)
                bound_names = tuple(alias.asname or alias.name for alias in node.names)
                imports.append(ImportFact(module, names, scope, node.lineno, True, bound_names))
                if scope == MODULE_SCOPE:
                    for alias in node.names:
                        joined = module + alias.name if module.endswith(".") or not module else f"{module}.{alias.name}"
                        aliases[alias.asname or alias.name] = joined
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                stack.append((node.body, _inner_scope(scope, node.name)))
            elif isinstance(node, ast.ClassDef):
                stack.append((node.body, _inner_scope(scope, node.name)))
            else:
                for child_body in _child_bodies(node):
                    stack.append((child_body, scope))
    globals_: List[Binding] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = tuple(ref for ref in (_base_ref(base, aliases) for base in node.bases) if ref)
            loc = Loc(node.lineno, node.col_offset + 1, node.lineno, node.col_offset + 1)
            attributes = tuple(_bindings(node.body))
            classes.append(ClassFact(node.name, node.name, loc, bases, attributes, ()))
    globals_.extend(_bindings(tree.body))
    return ModuleFacts(imports=tuple(imports), globals=tuple(globals_), classes=tuple(classes), detailed=False)


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


def _literal(node: Optional[ast.expr]) -> Value:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes, int, float, bool, type(None))):
        return Const(node.value)
    return Opaque("unscanned")


def _inner_scope(scope: str, name: str) -> str:
    return f"{scope}.{name}" if scope else name


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


def _base_ref(node: ast.expr, aliases: Dict[str, str]) -> Optional[Ref]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    dotted = ".".join(reversed(parts))
    root, _, rest = dotted.partition(".")
    if root in aliases:
        target = aliases[root]
        return Ref("import", f"{target}.{rest}" if rest else target)
    return Ref("global", dotted)
