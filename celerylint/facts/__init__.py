"""Per-file facts: bytes in, ModuleFacts out (pure, picklable). Routes each file by size and
relevance: the detailed extraction (from `ast`'s tree, facts/extract_ast.py; from libcst for
syntax newer than the interpreter's, facts/extract.py), the cheap scans (facts/scan.py)."""

from __future__ import annotations

import ast
import io
import re
import sys
import threading
import tokenize
import warnings
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Tuple, TypeVar

from celerylint.facts.scan import scan_import_lines, scan_imports
from celerylint.facts.types import ModuleFacts, SyntaxErrorFact

# A file that matches none of these contributes only its imports and top-level
# classes, which `ast` gives ten times faster than libcst.
RELEVANT = re.compile(
    rb"[Cc]elery|CELERY|shared_task|\.task\b|\.send_task\b|\.delay\b|apply_async|AsyncResult|[Ff]lask|broker_|"
    rb"result_backend|_time_limit|task_serializer|accept_content|INSTALLED_APPS|"
    rb"DJANGO_SETTINGS_MODULE|import_modules|app_context|kombu|^[ \t]*(?:imports|include)\s*=|"
    rb"^[ \t]*@[\w.]*task\b",  # a project's own task decorator (`@task(...)`, `@periodic_task`)
    re.MULTILINE,
)
# Each alternative of RELEVANT contains one of these: a file holding none cannot match, and
# `bytes in` (memchr-fast) rules it out many times faster than the regex's alternation.
RELEVANT_WORDS = (
    b"elery", b"ELERY", b"task", b".delay", b"apply_async", b"AsyncResult", b"lask", b"broker_",
    b"result_backend", b"_time_limit", b"accept_content", b"INSTALLED_APPS", b"DJANGO_SETTINGS_MODULE",
    b"import_modules", b"app_context", b"kombu", b"imports", b"include",
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
def is_relevant(data: bytes) -> bool:
    """Whether the file mentions Celery, Flask or a task at all (else only its imports matter)."""
    return any(word in data for word in RELEVANT_WORDS) and RELEVANT.search(data) is not None


def facts_from_bytes(data: bytes, detailed: bool = True) -> ModuleFacts:
    """Facts for one file's content (``detailed=False``: only what the cheap scan gives, as
    for test code). Never raises for bad input."""
    facts = _facts(data, detailed)
    if facts.syntax_error is not None and is_relevant(data):
        return facts._replace(relevant=True)
    return facts


def _facts(data: bytes, detailed: bool) -> ModuleFacts:
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
    if tree is not None and (not detailed or len(data) > MAX_DETAILED_BYTES or not is_relevant(data)):
        return scan_imports(tree)
    if tree is not None:
        # The interpreter's own parser understood the file: the same facts from its tree, without
        # parsing again with libcst (several times slower).
        parsed = tree
        return _run_with_big_stack(lambda: _ast_facts(parsed, data))
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


def _ast_facts(tree: ast.Module, data: bytes) -> ModuleFacts:
    from celerylint.facts.extract_ast import extract_facts_ast

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeError):  # ast.parse accepted it: cannot happen
        return _detailed_facts(data)
    with _deep_recursion():
        try:
            return extract_facts_ast(tree, text)
        except RecursionError:
            return _error("too deeply nested to analyse", 1, 1)


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


__all__ = ["facts_from_bytes", "scan_imports", "scan_import_lines", "MAX_DETAILED_BYTES", "MAX_PARSED_BYTES"]
