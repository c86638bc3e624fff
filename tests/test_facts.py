"""Per-file facts: names qualified through imports and scopes; bad input never raises."""

from __future__ import annotations

import ast
import pickle

import pytest

from celerylint.facts import facts_from_bytes
from celerylint.facts.types import Call, Const, Ref

SOURCE = b'''
from celery import Celery
from flask import current_app as ca
from .ext import db

app = Celery("p", broker="redis://")
app.conf.task_time_limit = 5


@app.task(bind=True)
def job(self, user_id: int):
    user = db.session.get(user_id)
    with ca.app_context():
        ca.logger.info("x")
    return user


if __name__ == "__main__":
    app.start()
'''


def test_names_are_qualified_through_imports() -> None:
    facts = facts_from_bytes(SOURCE)
    assert facts.detailed and facts.syntax_error is None
    binding = facts.globals[0]
    assert binding.name == "app" and isinstance(binding.value, Call)
    assert binding.value.func == Ref("import", "celery.Celery")
    assert binding.value.kwarg("broker") == Const("redis://")
    job = next(f for f in facts.functions if f.name == "job")
    assert job.locals[0].value == Call(Ref("import", ".ext.db.session.get"), (Ref("local", "user_id"),))
    assert [p.name for p in job.params] == ["self", "user_id"]
    assert facts.stores[0].target == Ref("global", "app.conf.task_time_limit")


def test_with_context_and_main_block_are_recorded() -> None:
    facts = facts_from_bytes(SOURCE)
    inside = [u for u in facts.uses if u.ref.path == "flask.current_app.logger.info"]
    assert inside and inside[0].contexts == (Ref("import", "flask.current_app"),)
    start = [c for c in facts.calls if c.value.func == Ref("global", "app.start")]
    assert start[0].scope == "<__main__>"


def test_facts_pickle() -> None:
    facts = facts_from_bytes(SOURCE)
    assert pickle.loads(pickle.dumps(facts)) == facts


def test_irrelevant_file_gives_imports_only() -> None:
    facts = facts_from_bytes(b"import os\nfrom . import sibling\n\nclass A(os.PathLike):\n    pass\n")
    assert not facts.detailed
    assert [i.module for i in facts.imports] == ["os", "."]
    assert facts.classes[0].bases == (Ref("import", "os.PathLike"),)


@pytest.mark.parametrize(
    "data",
    [
        b"def f(:\n",
        b"print 'python 2'\n",
        b"<<<<<<< HEAD\nx = 1\n=======\nx = 2\n>>>>>>> branch\n",
        b"\x00\x01\x02binary",
        b"# -*- coding: uft-8 -*-\nx = 1\n",
        b"x = '\xff\xfe'\n",
        b"x = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n",
        b"from celery import Celery\nx = " + b"[" * 1000 + b"]" * 1000 + b"\n",
    ],
)
def test_bad_input_gives_a_positioned_error(data: bytes) -> None:
    facts = facts_from_bytes(data)
    assert facts.syntax_error is not None
    assert facts.syntax_error.line >= 1 and facts.syntax_error.col >= 1


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xef\xbb\xbffrom celery import Celery\napp = Celery()\n",
        b"# -*- coding: latin-1 -*-\nfrom celery import Celery\nname = '\xe9'\n",
        b"from celery import Celery\r\napp = Celery()\r\n",
        b"from celery import Celery\rapp = Celery()\r",
        b"from celery import Celery\nif True:\n\tapp = Celery()\n",
        b"# -*- coding: cp1252 -*-\nfrom celery import Celery\nname = '\x80'\n",
        b"from celery import Celery\n\x0c\napp = Celery()\n",
        b"type Alias[T] = list[T]\n\ndef f[T](x: T) -> T:\n    return x\nfrom celery import Celery\n",
    ],
)
def test_unusual_but_valid_input_parses(data: bytes) -> None:
    assert facts_from_bytes(data).syntax_error is None


DEEP_PRELUDE = b"from celery import Celery\n"
# Deep but valid: CPython accepts each one, so none may be reported as a syntax error.
DEEP_VALID = {
    "elif-322": DEEP_PRELUDE + b"if x == 0:\n    pass\n" + b"".join(b"elif x == %d:\n    pass\n" % i for i in range(1, 322)),
    "plus-323": DEEP_PRELUDE + b"x = " + b"1+" * 322 + b"1\n",
    "plus-1501": DEEP_PRELUDE + b"x = " + b"1+" * 1500 + b"1\n",
    "attr-1500": DEEP_PRELUDE + b"x = a" + b".b" * 1500 + b"\n",
    "list-139": DEEP_PRELUDE + b"x = " + b"[" * 139 + b"]" * 139 + b"\n",
    "call-150": DEEP_PRELUDE + b"x = " + b"f(" * 150 + b")" * 150 + b"\n",
    "strings-3001": DEEP_PRELUDE + b"x = 'a' " + b"'b' " * 3000 + b"\n",
    # libcst's own parser rejects this one: the cheap `ast` scan stands in.
    "strings-6001": DEEP_PRELUDE + b"x = 'a' " + b"'b' " * 6000 + b"\n",
    "if-99": DEEP_PRELUDE + b"".join(b" " * i + b"if x:\n" for i in range(99)) + b" " * 99 + b"pass\n",
}
# Past CPython's own limits: a syntax error (CEL000) is right.
DEEP_INVALID = {
    "plus-5001": DEEP_PRELUDE + b"x = " + b"1+" * 5000 + b"1\n",
    "attr-5000": DEEP_PRELUDE + b"x = a" + b".b" * 5000 + b"\n",
    "list-201": DEEP_PRELUDE + b"x = " + b"[" * 201 + b"]" * 201 + b"\n",
    "if-100": DEEP_PRELUDE + b"".join(b" " * i + b"if x:\n" for i in range(100)) + b" " * 100 + b"pass\n",
}


def _cpython_accepts(data: bytes) -> bool:
    try:
        ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


@pytest.mark.parametrize(("name", "data"), [*DEEP_VALID.items(), *DEEP_INVALID.items()], ids=[*DEEP_VALID, *DEEP_INVALID])
def test_deep_nesting_is_a_syntax_error_exactly_when_cpython_says_so(name: str, data: bytes) -> None:
    accepted = _cpython_accepts(data)
    assert accepted == (name in DEEP_VALID), "the example no longer sits on the side of CPython's limit it documents"
    facts = facts_from_bytes(data)
    if not accepted:
        assert facts.syntax_error is not None
        return
    assert facts.syntax_error is None, f"valid code reported as {facts.syntax_error}"
    assert ("celery", ("Celery",)) in [(fact.module, fact.names) for fact in facts.imports]


def test_long_generated_dispatch_chain_keeps_its_tasks() -> None:
    """A 400-branch elif chain next to an app and a task: still analysed in detail, not just scanned."""
    chain = b"def route(x):\n    if x == 0:\n        return 0\n" + b"".join(
        b"    elif x == %d:\n        return %d\n" % (i, i) for i in range(1, 400)
    )
    data = b"from celery import Celery\napp = Celery('p')\n\n\n@app.task(time_limit=5)\ndef job():\n    pass\n\n\n" + chain
    facts = facts_from_bytes(data)
    assert facts.syntax_error is None and facts.detailed
    assert {function.name for function in facts.functions} >= {"job", "route"}


LINE_SCAN_SOURCE = b'''import os, sys as system
from . import a, b as bee
from ..pkg.mod import (  # type: ignore[attr-defined]
    one,
    two as deux,
)
from x.y import *
from errno import EALREADY, \\
    EINPROGRESS
def f():
    import inner.mod
    from z import w  # comment
x = "import fake"
'''


def test_the_line_scan_of_a_huge_file_finds_what_the_ast_scan_finds() -> None:
    import ast

    from celerylint.facts import MAX_PARSED_BYTES, facts_from_bytes, scan_imports

    expected = {(i.module, i.names, i.line, i.bound) for i in scan_imports(ast.parse(LINE_SCAN_SOURCE)).imports}
    padded = LINE_SCAN_SOURCE + b"#" * MAX_PARSED_BYTES + b"\n"
    facts = facts_from_bytes(padded)  # too large to parse: the line scan
    assert {(i.module, i.names, i.line, i.bound) for i in facts.imports} == expected
    assert facts.syntax_error is None and not facts.detailed


# One text per alternative of RELEVANT, in the pattern's order.
RELEVANT_SAMPLES = [
    "from celery import Celery", "X = CELERY_BROKER_URL", "@shared_task\ndef f(): pass", "x.task(f)", "app.send_task(name)", "job.delay(1)",
    "job.apply_async()", "r = AsyncResult(i)", "from flask import g", "broker_url = ''", "result_backend = ''",
    "soft_time_limit = 3", "task_serializer = 'json'", "accept_content = []", "INSTALLED_APPS = []",
    "os.environ['DJANGO_SETTINGS_MODULE']", "import_modules()", "with app.app_context(): pass", "import kombu",
    "imports = ('a',)", "@task\ndef f(): pass",
]


def _top_level_alternatives(pattern: str) -> int:
    depth, count, escaped = 0, 1, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            count += 1
    return count


def test_relevant_words_rule_out_only_what_the_pattern_cannot_match() -> None:
    """The literal prefilter is exact: every alternative of RELEVANT holds one of its words."""
    from celerylint.facts import RELEVANT, RELEVANT_WORDS, is_relevant

    assert _top_level_alternatives(RELEVANT.pattern.decode()) == len(RELEVANT_SAMPLES)
    for sample in RELEVANT_SAMPLES:
        data = sample.encode()
        assert RELEVANT.search(data), sample
        assert is_relevant(data), sample
        # Each sample is matched through a word of the prefilter, not by luck of another word.
        assert any(word in data for word in RELEVANT_WORDS)
    assert not is_relevant(b"import os\nx = 1\n")


def test_values_of_different_kinds_are_never_equal() -> None:
    """Values are named tuples tagged with their type: the model keys caches by value, and a
    constant must not stand for an opaque expression or a name (as equal untagged tuples would)."""
    from celerylint.facts.types import Const, Opaque, Ref, Seq

    assert Const("x") != Opaque("x")  # type: ignore[comparison-overlap]
    assert Ref("global", "x") != Seq("tuple", ("global", "x"))  # type: ignore[arg-type]
    assert len({Const("x"), Opaque("x")}) == 2
    assert repr(Ref("global", "x")) == "Ref(scope='global', path='x')"
