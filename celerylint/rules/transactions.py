"""CEL023: a task sent before the database transaction that wrote its rows commits."""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Tuple

from celerylint.facts.types import Attr, Call, CallFact, Loc, Ref, Value
from celerylint.findings import Related
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project, TaskDef
from celerylint.model.resolve import ExtObj
from celerylint.rules.base import Report, Rule, case, related_at, report

ATOMIC = frozenset({"django.db.transaction.atomic"})
WRITES = frozenset({"add", "add_all", "flush", "merge"})
ENDS = frozenset({"commit", "rollback"})
ORM_WRITES = frozenset({"save", "create", "bulk_create", "get_or_create", "update_or_create", "bulk_update"})
QUERYSET_WRITES = frozenset({"update", "delete"})


def _position(loc: Loc) -> Tuple[int, int]:
    return loc.line, loc.col


def _is_atomic(project: Project, info: ModuleInfo, scope: str, value: Value) -> bool:
    """`transaction.atomic` or `transaction.atomic(...)` (a decorator or a `with` item)."""
    if isinstance(value, Call):
        value = value.func
    obj = project.resolve(info, scope, value)
    return isinstance(obj, ExtObj) and obj.path in ATOMIC


def _in_block(project: Project, info: ModuleInfo, call: CallFact) -> bool:
    return any(_is_atomic(project, info, call.scope, manager) for manager in call.managers)


def _orm_write(call: CallFact) -> bool:
    """A Django ORM write: `obj.save()`, `Model.objects.create(...)`, `form.save()`,
    `qs.filter(...).update(...)`... (`d.update(...)` on a name is not one: dicts have it too)."""
    func = call.value.func
    if isinstance(func, Ref) and "." in func.path:
        return func.last in ORM_WRITES or (func.last in QUERYSET_WRITES and ".objects." in func.path)
    return isinstance(func, Attr) and isinstance(func.base, Call) and func.attr in ORM_WRITES | QUERYSET_WRITES


def _atomic_write(project: Project, info: ModuleInfo, call: CallFact) -> Optional[Tuple[str, CallFact]]:
    """How the call is inside a Django transaction that has written rows before it: a `with
    transaction.atomic():` block of its own function, or its function decorated with
    `@transaction.atomic`; and the ORM write made before it in that transaction."""
    block = _in_block(project, info, call)
    if block:
        where = "in `with transaction.atomic():`"
    else:
        function = project.resolver.functions.get((info.name, call.scope))
        if function is None or not any(_is_atomic(project, info, function.scope, value) for value, _ in function.decorators):
            return None
        where = f"in @transaction.atomic {function.name}()"
    here = _position(call.loc)
    for other in project.graph.calls_in(info, call.scope):
        if _position(other.loc) < here and _orm_write(other) and (not block or _in_block(project, info, other)):
            return where, other
    return None


def _session_method(call: CallFact) -> Optional[Tuple[str, str]]:
    """(session, method) for `db.session.add(...)`, `session.commit()`...: a receiver named
    like a session (SQLAlchemy's and Flask-SQLAlchemy's idiom), so `repo.index.add` is not one."""
    func = call.value.func
    if not (isinstance(func, Ref) and "." in func.path):
        return None
    receiver, _, method = func.path.rpartition(".")
    if "session" not in receiver.rpartition(".")[2].lower():
        return None
    return receiver, method


def _uncommitted_write(project: Project, info: ModuleInfo, call: CallFact) -> Optional[CallFact]:
    """The `session.add()`/`flush()` before the call, in the same function, with no commit
    between them and a `session.commit()` after the call: the rows are not committed yet."""
    here = _position(call.loc)
    pending: Dict[str, CallFact] = {}
    committed_after: List[str] = []
    for other in sorted(project.graph.calls_in(info, call.scope), key=lambda c: _position(c.loc)):
        found = _session_method(other)
        if found is None:
            continue
        session, method = found
        if _position(other.loc) < here:
            if method in WRITES:
                pending.setdefault(session, other)
            elif method in ENDS:
                pending.pop(session, None)
        elif method == "commit":
            committed_after.append(session)
    for session in committed_after:
        if session in pending:
            return pending[session]
    return None


def _sent(project: Project) -> Iterator[Tuple[ModuleInfo, CallFact, TaskDef]]:
    for info, call in project.calls_named("delay", "apply_async"):
        if info.is_test:
            continue  # test code runs tasks eagerly, often inside a test transaction
        task = project.sent_task(info, call.scope, call.value)
        if task is not None:
            yield info, call, task


def _task_related(task: TaskDef) -> Related:
    loc = task.decorator_loc
    return related_at(task.module.rel, loc.line, loc.col, f"the task '{task.name}'")


def check(project: Project) -> Iterator[Report]:
    for info, call, task in _sent(project):
        method = call.value.func.last if isinstance(call.value.func, Ref) else "delay"
        atomic = _atomic_write(project, info, call)
        if atomic is not None:
            where, write = atomic
            yield report(
                info.rel, call.loc,
                f"{task.function.qualname}.{method}() follows a write {where}: it may run "
                "before the commit or after a rollback",
                [_task_related(task), related_at(info.rel, write.loc.line, write.loc.col, "the write the transaction has not committed")],
                hint=f"Send it in transaction.on_commit() or with .{method}_on_commit().",
            )
            continue
        pending = _uncommitted_write(project, info, call)
        if pending is not None:
            session = _session_method(pending)
            assert session is not None
            receiver = ".".join(session[0].split(".")[-2:])  # db.session, not the module path to it
            yield report(
                info.rel, call.loc,
                f"{task.function.qualname}.{method}() follows {receiver}.{session[1]}() and precedes "
                f"{receiver}.commit(): the task can run before the rows are committed",
                [_task_related(task), related_at(info.rel, pending.loc.line, pending.loc.col, "the uncommitted write")],
                hint="Send it after the commit.",
            )


CEL023_INVALID = (
    case(
        r'''
# --- shop/__init__.py
# --- shop/tasks.py
from celery import shared_task


@shared_task(time_limit=60)
def send_receipt(order_id):
    return order_id
# --- shop/views.py
from django.db import transaction

from shop.models import Order
from shop.tasks import send_receipt


def checkout(cart):
    with transaction.atomic():
        order = Order.objects.create(cart=cart)
        send_receipt.delay(order.id)  # expect: CEL023


@transaction.atomic
def reorder(order):
    copy = Order.objects.create(cart=order.cart)
    send_receipt.apply_async((copy.id,), countdown=5)  # expect: CEL023
'''
    ),
    case(
        r'''
# --- blog/__init__.py
# --- blog/extensions.py
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
# --- blog/tasks.py
from celery import shared_task


@shared_task(time_limit=60)
def notify_followers(post_id):
    return post_id
# --- blog/views.py
from blog.extensions import db
from blog.models import Post
from blog.tasks import notify_followers


def publish(title):
    post = Post(title=title)
    db.session.add(post)
    db.session.flush()
    notify_followers.delay(post.id)  # expect: CEL023
    db.session.commit()
'''
    ),
)
CEL023_VALID = (
    case(
        r'''
# --- shop/__init__.py
# --- shop/tasks.py
from celery import shared_task


@shared_task(time_limit=60)
def send_receipt(order_id):
    return order_id
# --- shop/views.py
from functools import partial

from django.db import transaction

from shop.models import Order
from shop.tasks import send_receipt


def checkout(cart):
    with transaction.atomic():
        order = Order.objects.create(cart=cart)
        transaction.on_commit(lambda: send_receipt.delay(order.id))
        transaction.on_commit(partial(send_receipt.delay, order.id))
        send_receipt.delay_on_commit(order.id)
    send_receipt.delay(order.id)  # after the block: committed


def resend(order_ids):
    with transaction.atomic(using="replica"):  # reads only: nothing to wait for
        for order in Order.objects.filter(pk__in=order_ids):
            send_receipt.delay(order.id)
'''
    ),
    case(
        r'''
# --- blog/__init__.py
# --- blog/extensions.py
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
# --- blog/tasks.py
from celery import shared_task


@shared_task(time_limit=60)
def notify_followers(post_id):
    return post_id
# --- blog/views.py
from blog.extensions import db
from blog.models import Post
from blog.tasks import notify_followers


def publish(title, repo):
    post = Post(title=title)
    db.session.add(post)
    db.session.commit()
    notify_followers.delay(post.id)
    repo.index.add(["post.md"])
    notify_followers.delay(post.id)
    repo.index.commit("publish")
'''
    ),
)


RULE = Rule(
    code="CEL023",
    name="dispatch-before-commit",
    summary="A task is sent inside a database transaction, before the rows it needs are committed.",
    what=(
        "Reports `.delay()`/`.apply_async()` of a project task inside `with transaction.atomic():` or "
        "in a function decorated with `@transaction.atomic` after an ORM write in that transaction "
        "(`.save()`, `.objects.create()`, `get_or_create`, `.update()` on a queryset...) (Django), or after `session.add()`/"
        "`flush()` and before `session.commit()` in the same function (SQLAlchemy). Silent for "
        "`transaction.on_commit(lambda: task.delay(...))` and `task.delay_on_commit(...)`, and for "
        "calls in functions the transaction calls. `ATOMIC_REQUESTS` (every Django view in a "
        "transaction) is not considered: which functions are views is not known statically."
    ),
    why=(
        "The message reaches the broker at once, while the transaction is still open: a worker can "
        "start the task before the commit and not find the new rows (`DoesNotExist`, a None lookup), "
        "or run it for changes that are then rolled back."
    ),
    fix=(
        "Send the task once the transaction has committed: `transaction.on_commit(lambda: t.delay(...))`, "
        "`t.delay_on_commit(...)` (Celery 5.4+, Django), or after `session.commit()`."
    ),
    invalid=CEL023_INVALID,
    valid=CEL023_VALID,
    check=check,
)
