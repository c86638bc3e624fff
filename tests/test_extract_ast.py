"""The `ast` extraction gives exactly the facts of the libcst extraction (which stays the parser
for syntax newer than the interpreter's): on every fixture, every rule example, this package's
own sources, and the shapes where the two trees disagree about positions or order."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from celerylint.facts import _ast_facts, _detailed_facts, facts_from_bytes
from celerylint.facts.types import Ref
from celerylint.rules import ALL_RULES

REPO = Path(__file__).resolve().parent.parent

SHAPES = {
    "non_ascii_columns": "def f():\n    x = 'é€😀'; app.task.delay('ü', ü=1)\n    return ü.get()\n",
    "tabs_and_form_feed": "def f():\n\tif x:\n\t\tt.delay(\ta, b)\n\x0c\ndef g(): pass\n",
    "crlf_and_cr": "def f():\r\n    t.delay(1,\r\n            2)\r\nx = 1\r",
    "bom": "\ufeffimport celery\ndef f():\n    t.delay(1)\n",
    "latin1_cookie": "# -*- coding: latin-1 -*-\ndef f():\n    t.delay('\xe9', 1)\n",
    "string_concatenation": "A = 'a' 'b'\nB = b'a' b'b'\nC = 'a' f'{x}'\nD = f'{x}'\nE = f'{x}' 'y'\ndef f():\n    t.delay(f'{a}' 'b', b'x')\n",
    "generator_and_tuple_arguments": "def f():\n    t.delay(x for x in y)\n    t.apply_async((a,), countdown=1)\n    t.apply_async(( a, b ), ((c)), ())\n    t.delay((x for x in y), 2)\n",
    "call_argument_order": "def f():\n    t.delay(k=1, *a)\n    t.delay(*a, k=2, **kw)\n    g(a=h(), *[i()])\n",
    "with_items": "def f():\n    with (app.app_context()) as ctx, open(p) as fh:\n        t.delay(ctx)\n    with a, (b):\n        pass\n",
    "global_nonlocal_except": "X = 1\ndef f():\n    global X, app\n    def g():\n        nonlocal y\n    try:\n        pass\n    except (ValueError) as X:\n        X.get()\n",
    "class_keywords_and_decorators": "@deco(a())\nclass C(Base, *more, metaclass=M, **kw):\n    x = y()\n    @app.task(bind=True)\n    async def run(self, a: int = f(), *args, b=g(), **kwargs) -> R:\n        await h()\n",
    "dict_ifexp_comprehension_order": "def f():\n    d = {a(): b(), **c(), e(): g()}\n    v = h() if i() else j()\n    w = {k(): l() for m in n()}\n    return [o(p) for p in q() if r(p)]\n",
    "attribute_of_call": "state = 1\nbar = 2\ndef f():\n    return g().state.result + h()[0].bar\n",
    "main_block_and_lambdas": "if __name__ == '__main__':\n    app.start()\nelif x:\n    pass\nf = lambda: app.task\nk = lambda a: a\n",
    "subscripts": "def f():\n    x[(a) | (b), 'c',] = 0\n    t.delay((a), (b))\n    t.delay(((a), (b)))\n    x[a, b] = 1\n    y[(a, b)] = 2\n    z[1:2] = 3\n    return conf['x'], conf[('y')]\n",
    "star_import_and_builtins": "from x import *\ndef f():\n    return thing.delay(len(y))\n",
    "optional_imports": "try:\n    from .local import *\nexcept (ImportError, KeyError):\n    import x\nelse:\n    import y\nfinally:\n    import z\ntry:\n    import a\nexcept ValueError:\n    pass\nwith suppress(ImportError):\n    import b\nwith contextlib.suppress(KeyError):\n    import c\n",
    "stores_and_request_contexts": "from flask import session, g\ndef f(sessions):\n    with app.test_request_context():\n        session['k'] = v\n    g.user = u\n    x[a:b] = 1\n    d[(k, j)] += 2\n    c.a.b = 3\n    return [s.get(k) for s in sessions]\n",
    "conditional_imports": "import sys\nif sys.version_info < (3,):\n    from celery.task import task\nelif TYPE_CHECKING:\n    import typing_extensions\nelse:\n    import x\nif __name__ == '__main__':\n    import y\ndef f():\n    if a:\n        import z\n",
    "annotations_and_globals": "from celery import Celery\napp: Celery = Proxy(make)\nother: 'Celery'\nthird: 'Optional[Celery]' = None\nbad: 'not valid(' = 1\nb: b'x' = 2\ndef make():\n    global app, _cached\n    app: Celery\n    _cached = Celery('x')\n    return _cached\nclass C:\n    x: int = 1\n",
    "guarded_blocks_and_config_keywords": "app = Celery('p', broker_url='x', task_time_limit=1)\nif DEBUG:\n    app.conf.update(task_always_eager=True)\n    X = 1\nelif y():\n    conf['k'] = 2\nfor i in range(3):\n    Z = i\nelse:\n    app.conf.setdefault(k=1)\nwhile w():\n    W = 1\ntry:\n    T = 1\nexcept E as e:\n    U = f()\nmatch v:\n    case 1:\n        V = g()\ndef h():\n    if a:\n        return update(b=1)\n    conf.update(\n        result_backend='x',\n    )\n",
    "names_deleted_and_walrus": "def f():\n    del x\n    if (n := t.delay(1)):\n        n.get()\n",
}


def _sources() -> Iterator[Tuple[str, str]]:
    for path in sorted((REPO / "fixtures").rglob("*.py")):
        yield str(path.relative_to(REPO)), path.read_text(encoding="utf-8", errors="replace")
    for path in sorted((REPO / "celerylint").rglob("*.py")):
        yield str(path.relative_to(REPO)), path.read_text(encoding="utf-8")
    for rule in ALL_RULES:
        for number, example in enumerate(rule.invalid + rule.valid):
            for rel, text in example.files().items():
                if rel.endswith(".py"):
                    yield f"{rule.code}[{number}]/{rel}", text


def _both(data: bytes) -> Tuple[object, object]:
    return _detailed_facts(data), _ast_facts(ast.parse(data), data)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shapes_where_the_trees_differ(name: str) -> None:
    source = SHAPES[name]
    data = source.encode("latin-1") if "latin-1" in source else source.encode("utf-8")
    libcst_facts, ast_facts = _both(data)
    assert ast_facts == libcst_facts


def test_every_fixture_example_and_own_source() -> None:
    differing = []
    count = 0
    for name, text in _sources():
        data = text.encode("utf-8")
        try:
            ast.parse(data)
        except SyntaxError:
            continue
        count += 1
        libcst_facts, ast_facts = _both(data)
        if ast_facts != libcst_facts:
            differing.append(name)
    assert count > 150
    assert differing == []


def test_newer_syntax_still_gets_detailed_facts_from_libcst() -> None:
    source = b"from celery import shared_task\n\ntype Payload = dict[str, int]\n\n@shared_task\ndef run[T](x: T) -> T:\n    return x\n"
    try:
        ast.parse(source)
        pytest.skip("this interpreter parses PEP 695 itself")
    except SyntaxError:
        pass
    facts = facts_from_bytes(source)
    assert facts.detailed and facts.syntax_error is None and [f.name for f in facts.functions] == ["run"]


def test_each_string_annotation_has_its_own_value() -> None:
    """String annotations are parsed into trees of their own; values are memoized by node
    identity, so a freed tree's reused ids answered for the next one (every annotation after
    the first read as the first: flaky equality, wrong apps)."""
    source = "from celery import Celery\n" + "".join(f"x{number}: 'T{number}'\n" for number in range(30))
    for facts in _both(source.encode()):
        annotations = facts.annotations  # type: ignore[attr-defined]
        assert [binding.value for binding in annotations] == [Ref("builtin", f"T{number}") for number in range(30)]
