"""CEL007: a task that waits for another task's result."""

from __future__ import annotations

from typing import Iterator, Optional

from celerylint.facts.types import Attr, CallFact, Const, Ref, Value
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project, TaskDef
from celerylint.model.resolve import ExtObj
from celerylint.rules.base import Report, Rule, case, related_at, report

JOIN_METHODS = frozenset({"get", "wait", "join", "join_native", "collect"})
ALLOW_JOIN = frozenset({"celery.result.allow_join_result", "celery.allow_join_result"})


def _allowed(project: Project, info: ModuleInfo, call: CallFact) -> bool:
    """Inside `with allow_join_result():`, or `.get(disable_sync_subtasks=False)`."""
    flag = call.value.kwarg("disable_sync_subtasks")
    if isinstance(flag, Const) and flag.value is False:
        return True
    for manager in call.managers:
        obj = project.resolve(info, call.scope, manager)
        if isinstance(obj, ExtObj) and obj.path in ALLOW_JOIN:
            return True
    return False


def _waits(project: Project, task: TaskDef) -> Iterator[CallFact]:
    info = task.module
    for scope in project.task_scopes(task):
        for call in project.graph.calls_in(info, scope):
            waited = _waited_on(call)
            if waited is not None and project.is_task_result(info, scope, waited) and not _allowed(project, info, call):
                yield call


def _waited_on(call: CallFact) -> Optional[Value]:
    """`x` in `x.get()`, `f(...)` in `f(...).get()`, for the join methods."""
    func = call.value.func
    if isinstance(func, Ref) and func.last in JOIN_METHODS and "." in func.path:
        return Ref(func.scope, func.path.rpartition(".")[0])
    if isinstance(func, Attr) and func.attr in JOIN_METHODS:
        return func.base
    return None


def _method(call: CallFact) -> str:
    func = call.value.func
    return func.last if isinstance(func, Ref) else func.attr if isinstance(func, Attr) else "get"


def check(project: Project) -> Iterator[Report]:
    for task in project.tasks:
        for call in _waits(project, task):
            method = _method(call)
            decorator = task.decorator_loc
            yield report(
                task.module.rel, call.loc,
                f"task {task.function.qualname}() waits for another task with .{method}(): Celery raises "
                "'Never call result.get() within a task!' (gevent/eventlet: a blocked slot)",
                [related_at(task.module.rel, decorator.line, decorator.col, f"the task '{task.name}'")],
            )


CEL007_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def fetch(url):
    return url


@app.task
def crawl(urls):
    pages = [fetch.delay(url) for url in urls]
    first = fetch.delay(urls[0])
    return first.get(timeout=30)  # expect: CEL007
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery, group
from celery.result import AsyncResult

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def fetch(url):
    return url


def _gather(urls):
    return group(fetch.s(url) for url in urls)().join()  # expect: CEL007


@app.task
def crawl(urls, previous_id):
    AsyncResult(previous_id).wait()  # expect: CEL007
    return _gather(urls)
'''
    ),
)
CEL007_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery, chain

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def fetch(url):
    return url


@app.task
def store(page):
    return page


@app.task
def crawl(url):
    chain(fetch.s(url), store.s()).apply_async()  # chained: nothing waits
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
import requests
from celery import Celery
from celery.result import allow_join_result
from django.core.cache import cache

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def fetch(url):
    return url


@app.task
def crawl(url, options):
    timeout = options.get("timeout", 10)
    cached = cache.get(url)
    page = requests.get(url, timeout=timeout)
    with allow_join_result():
        checked = fetch.delay(url).get(timeout=timeout)
    again = fetch.delay(url).get(disable_sync_subtasks=False)
    return cached, page, checked, again
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def fetch(url):
    return url
# --- proj/views.py
from proj.tasks import fetch


def page(url):
    return fetch.delay(url).get(timeout=5)  # a web view may wait; only tasks may not
'''
    ),
)


RULE = Rule(
    code="CEL007",
    name="result-get-in-task",
    summary="A task waits for another task's result (.get(), .wait(), .join()...).",
    what=(
        "Finds `.get()`, `.wait()`, `.join()`, `.join_native()` and `.collect()` on a value that is "
        "provably a task result (from `.delay()` or `.apply_async()` of a task or signature, "
        "`AsyncResult(...)`, a called group, chord or chain, or a local name bound to one) inside a "
        "task or a function of the same module that the task calls. Silent inside `with "
        "allow_join_result():` and with `disable_sync_subtasks=False`; never on `dict.get`, "
        "`requests.get` or `cache.get`."
    ),
    why=(
        "Celery raises `RuntimeError: Never call result.get() within a task!` under the prefork, solo "
        "and threads pools. Under gevent and eventlet it does not raise: the task blocks a worker "
        "slot waiting for another task, and a busy pool can deadlock when every slot waits."
    ),
    fix="Chain the work (`chain(a.s(), b.s())`, a chord, or `link=`) instead of waiting inside the task.",
    invalid=CEL007_INVALID,
    valid=CEL007_VALID,
    check=check,
)
