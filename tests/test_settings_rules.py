"""The facts and tables the settings rules (CEL010, CEL011, CEL012, CEL025) stand on."""

from __future__ import annotations

from celerylint.facts import facts_from_bytes
from celerylint.model.setting_names import tables

GUARDS = b"""
import celery
A = 1
if X:
    B = 2
    app.conf.b = 2
    app.conf.update(b=2)
else:
    C = 3
for item in items:
    D = 4
try:
    E = 5
except ImportError:
    F = 6
while W:
    G = 7
class Config:
    H = 8
    if Y:
        I = 9
def make():
    app.conf.j = 10
    if Z:
        app.conf.k = 11
L = 12
"""


def test_bindings_stores_and_calls_know_whether_they_may_not_run() -> None:
    facts = facts_from_bytes(GUARDS)
    bindings = {binding.name: binding.guarded for binding in facts.globals}
    bindings.update({binding.name: binding.guarded for cls in facts.classes for binding in cls.attributes})
    assert {name for name, guarded in bindings.items() if guarded} == {"B", "C", "D", "F", "G", "I"}
    assert {name for name, guarded in bindings.items() if not guarded} >= {"A", "E", "H", "L", "item"}
    stores = {store.target.path.rsplit(".", 1)[-1]: store.guarded for store in facts.stores}  # type: ignore[union-attr]
    assert stores == {"b": True, "j": False, "k": True}
    assert [call.guarded for call in facts.calls if "update" in str(call.value.func)] == [True]


def test_config_calls_keep_where_each_keyword_is_written() -> None:
    facts = facts_from_bytes(b"import celery\napp.conf.update(\n    broker_ur='x',\n)\n")
    (call,) = [call for call in facts.calls]
    assert call.arg_loc("broker_ur").line == 3


def test_tables_come_from_the_installed_celery() -> None:
    found = tables()
    assert {"broker_url", "task_time_limit"} <= found.names
    assert found.to_new["CELERYD_TASK_TIME_LIMIT"] == "task_time_limit"
    assert found.to_old["task_time_limit"] == "CELERYD_TASK_TIME_LIMIT"
    assert {"loader", "set_as_current", "namespace"} <= found.constructor and "broker_url" not in found.constructor
    assert found.pickle == {"pickle", "application/x-python-serialize"}
    assert "result_backend_thread_safe" in found.undeclared  # conf.get(...) in celery/backends/base.py
    assert {"max_retries", "rate_limit"} <= found.task_options
