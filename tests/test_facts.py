"""Per-file facts: names qualified through imports and scopes; bad input never raises."""

from __future__ import annotations

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


@pytest.mark.parametrize(
    "data",
    [
        b"from celery import Celery\nx = " + b"1+" * 5000 + b"1\n",
        b"from celery import Celery\nx = " + b"1+" * 1500 + b"1\n",
        b"from celery import Celery\nx = a" + b".b" * 5000 + b"\n",
        b"from celery import Celery\nx = a" + b".b" * 1500 + b"\n",
        b"from celery import Celery\nx = " + b"f(" * 150 + b")" * 150 + b"\n",
        b"from celery import Celery\nx = 'a' " + b"'b' " * 3000 + b"\n",
        b"from celery import Celery\n" + b"".join(b" " * i + b"if x:\n" for i in range(99)) + b" " * 99 + b"pass\n",
    ],
)
def test_deep_nesting_gives_a_result_or_a_diagnostic(data: bytes) -> None:
    facts = facts_from_bytes(data)
    assert facts.detailed or facts.syntax_error is not None
