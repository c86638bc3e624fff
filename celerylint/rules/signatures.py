"""Calls whose arguments do not fit the task. CEL009: a call the task's function cannot take;
CEL014: a task declared with the wrong idea of `bind`; CEL022: an execution option given to
`.delay()`, which hands every keyword to the task."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator, List, Optional, Set, Tuple

from celerylint.facts.types import Attr, BinOp, Call, CallFact, Const, DictVal, Ref, Seq, Value, last_name
from celerylint.findings import Related
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project, TaskDef
from celerylint.model.resolve import ExtObj
from celerylint.model.task_options import execution_options
from celerylint.model.task_shape import (
    POSITIONAL, CallerSignature, bind_option, caller_signature, checks_arguments, passes_arguments_through,
    plain_task_function, task_classes,
)
from celerylint.rules.base import Report, Rule, case, related_at, report

SENDING = ("delay", "apply_async")
# Methods whose keywords all go to the task (the ones CEL022 looks at).
STAR_METHODS = ("delay", "s", "si")
METHODS = ("delay", "apply_async", "apply", "s", "si", "signature")


@dataclass(frozen=True)
class Sent:
    """What a call gives the task: how many positionals (None: not known), the keywords with
    their location keys, and whether that is all (no `*`/`**` spread of unknown shape)."""

    how: str  # "delay", "apply_async", "apply", "s", "si", "signature" or "call" (a direct call)
    callee: str  # `add.delay`, `add`
    positional: Optional[int]
    keywords: Tuple[Tuple[str, str], ...]
    complete: bool
    args_key: Optional[str] = None  # apply_async: where the args tuple is written
    immutable: bool = False  # signature(..., immutable=True) is an si()
    after_result: bool = False  # a chain or chord callback: the previous result comes first

    def position_key(self, index: int) -> Optional[str]:
        """Where the index-th positional argument is written."""
        return self.args_key if self.how in ("apply_async", "apply", "signature") else str(index)

    @property
    def partial(self) -> bool:
        """`.s()` makes a partial signature: a chain or a later `.delay(...)` adds arguments."""
        return self.how == "s" or (self.how == "signature" and not self.immutable)


def _sent(call: CallFact, how: str, callee: str) -> Optional[Sent]:
    value = call.value
    if how in ("delay", "s", "si", "call"):
        named = tuple((name, name) for name, _ in value.kwargs)
        return Sent(how, callee, None if value.has_star else len(value.args), named, not value.has_star)
    if value.has_star:
        return None  # `apply_async(**options)` may hold args= and kwargs=
    immutable = value.kwarg("immutable")
    if immutable is not None and not isinstance(immutable, Const):
        return None
    args, args_key = (value.kwarg("args"), "args") if value.kwarg("args") is not None else (value.args[0] if value.args else None, "0")
    kwargs, kwargs_key = (value.kwarg("kwargs"), "kwargs") if value.kwarg("kwargs") is not None else (
        value.args[1] if len(value.args) > 1 else None, "1"
    )
    positional: Optional[int] = None
    if args is None or (isinstance(args, Const) and args.value is None):
        positional = 0
    elif isinstance(args, Seq) and args.kind in ("list", "tuple") and not args.has_star:
        positional = len(args.items)
    keywords: List[Tuple[str, str]] = []
    complete = positional is not None
    if kwargs is None or (isinstance(kwargs, Const) and kwargs.value is None):
        pass
    elif isinstance(kwargs, DictVal):
        for key, _ in kwargs.items:
            if isinstance(key, Const) and isinstance(key.value, str):
                keywords.append((key.value, kwargs_key))
            else:
                complete = False
        complete = complete and not kwargs.has_spread
    else:
        complete = False
    fixed = isinstance(immutable, Const) and bool(immutable.value)
    return Sent(how, callee, positional, tuple(keywords), complete, args_key if args is not None else None, fixed)


CHAINS = frozenset({"celery.chain", "celery.canvas.chain", "celery.canvas._chain"})
CHORDS = frozenset({"celery.chord", "celery.canvas.chord", "celery.canvas._chord"})
MAX_NESTING = 8
SIGNATURE_MAKERS = frozenset({"s", "si", "signature", "group", "subtask"})
CANVAS_NAMES = frozenset(path.rsplit(".", 1)[-1].lstrip("_") for path in CHAINS | CHORDS)


def _callbacks(project: Project) -> Set[Tuple[str, str, Call]]:
    """The signatures that get the previous task's result as their first argument: the members
    of `chain(a, b, ...)` after the first, `a | b` when a sends tasks, a chord's body and
    `link=` callbacks. Keyed by (module, scope, the `.s(...)` call)."""
    found: Set[Tuple[str, str, Call]] = set()
    for info in project.index.modules():
        if not any(_names_signature(call.value.func) for call in info.facts.calls):
            continue  # a callback is a signature: a module that makes none has none
        values: List[Tuple[str, Value]] = [(call.scope, call.value) for call in info.facts.calls]
        values.extend((function.qualname, binding.value) for function in info.facts.functions for binding in function.locals)
        values.extend(("", binding.value) for binding in info.facts.globals)
        for scope, value in values:
            for callback in _callbacks_in(project, info, scope, value):
                found.add((info.name, scope, callback))
    return found


def _names_signature(func: Value) -> bool:
    named = last_name(func)
    return named in SIGNATURE_MAKERS or named.lstrip("_") in CANVAS_NAMES


def _callbacks_in(project: Project, info: ModuleInfo, scope: str, value: Value, depth: int = 0) -> Iterator[Call]:
    if depth > MAX_NESTING:
        return
    if isinstance(value, BinOp):
        if value.op == "BitOr" and isinstance(value.right, Call) and project.is_canvas(info, scope, value.left):
            yield value.right
        yield from _callbacks_in(project, info, scope, value.left, depth + 1)
        yield from _callbacks_in(project, info, scope, value.right, depth + 1)
    elif isinstance(value, Call):
        func = value.func
        # Resolving every call of the project is the cost here: only names that can be
        # a chain or a chord are worth it.
        named = last_name(func)
        callee = project.resolve(info, scope, func) if named.lstrip("_") in CANVAS_NAMES else None
        path = callee.path if isinstance(callee, ExtObj) else ""
        if path in CHAINS:
            yield from (item for item in value.args[1:] if isinstance(item, Call))
        elif path in CHORDS and len(value.args) > 1 and isinstance(value.args[1], Call):
            yield value.args[1]
        elif isinstance(func, Call) and value.args and isinstance(value.args[0], Call):
            chord = project.resolve(info, scope, func.func)
            if isinstance(chord, ExtObj) and chord.path in CHORDS:
                yield value.args[0]  # chord(header)(body)
        link = value.kwarg("link")
        if isinstance(link, Call):
            yield link
        for item in (func, *value.args, *(item for _, item in value.kwargs)):
            yield from _callbacks_in(project, info, scope, item, depth + 1)
    elif isinstance(value, Attr):
        yield from _callbacks_in(project, info, scope, value.base, depth + 1)
    elif isinstance(value, Seq):
        for item in value.items:
            yield from _callbacks_in(project, info, scope, item, depth + 1)


def _task_calls(project: Project) -> Iterator[Tuple[ModuleInfo, CallFact, TaskDef, Sent]]:
    """Every call that sends, signs, applies or calls a known task, with what it passes."""
    callbacks: Optional[Set[Tuple[str, str, Call]]] = None
    for info, call in project.calls_named(*METHODS):
        func = call.value.func
        if not isinstance(func, Ref) or "." not in func.path:
            continue
        task = project.task_for(info, call.scope, Ref(func.scope, func.path.rpartition(".")[0]))
        if task is not None:
            sent = _sent(call, func.last, f"{func.path.rsplit('.', 2)[-2]}.{func.last}")
            if sent is not None and sent.partial:
                callbacks = _callbacks(project) if callbacks is None else callbacks
                if (info.name, call.scope, call.value) in callbacks:
                    sent = replace(sent, after_result=True)
            if sent is not None:
                yield info, call, task, sent
    names = sorted({task.function.name for task in project.tasks})
    for info, call in project.calls_named(*names):
        func = call.value.func
        if isinstance(func, Ref):
            task = project.task_for(info, call.scope, func)
            if task is not None:
                sent = _sent(call, "call", func.last)
                if sent is not None:
                    yield info, call, task, sent


def _outcome(project: Project, task: TaskDef, how: str) -> Optional[str]:
    """What happens at run time to a call the function cannot take, or None if not known."""
    if how == "call":
        return "TypeError at the call"
    if how == "apply":
        return "the task fails with TypeError"
    classes = task_classes(project, task)
    if classes is None:
        return None
    if how in ("s", "si", "signature"):
        return "TypeError when the signature is sent or run"
    checked = checks_arguments(project, task, classes)
    if checked is None:
        return "TypeError when it is sent or run"
    return "TypeError in the caller, nothing is sent" if checked else "sent, then the worker fails it with TypeError"


# The Task methods a call of each kind goes through before the function gets its arguments.
# `__call__` runs the function in the worker; with argument checking on, a send fails before it.
PATHS = {
    "delay": ("delay", "apply_async"),
    "apply_async": ("apply_async",),
    "s": ("s", "si", "signature", "subtask", "apply_async"),
    "si": ("s", "si", "signature", "subtask", "apply_async"),
    "signature": ("s", "si", "signature", "subtask", "apply_async"),
    "apply": ("apply", "__call__"),
    "call": ("__call__",),
}


def _known_signature(project: Project, task: TaskDef, how: str) -> Optional[CallerSignature]:
    """The task's signature, when every class method the call goes through passes the
    arguments on unchanged."""
    signature = caller_signature(task)
    if signature is None:
        return None
    classes = task_classes(project, task)
    if classes is None:
        return None
    methods = PATHS[how]
    if "apply_async" in methods and checks_arguments(project, task, classes) is not True:
        methods = (*methods, "__call__")  # the worker's call is where it fails
    return signature if passes_arguments_through(project, classes, methods) else None


def _defined(task: TaskDef, signature: CallerSignature) -> Related:
    loc = task.function.loc
    after = " after self (bind=True)" if signature.bound else ""
    return related_at(task.module.rel, loc.line, loc.col, f"the task '{task.name}' takes {signature.shown()}{after}")


@dataclass(frozen=True)
class Problem:
    code: str
    key: Optional[str]  # the argument to point at, or None for the whole call
    message: str
    hint: str = ""


def _problems(project: Project, task: TaskDef, signature: CallerSignature, sent: Sent) -> Iterator[Problem]:
    outcome = _outcome(project, task, sent.how)
    if outcome is None:
        return
    callee = f"{sent.callee}()"
    names = signature.keyword_names()
    options = execution_options()
    for name, key in sent.keywords:
        if name in names:
            continue
        if sent.how in STAR_METHODS and name in options and name not in signature.names():
            yield _execution_option(sent, name, key, signature.varkw, outcome)
        elif not signature.varkw:
            yield Problem("CEL009", key, f"{callee} passes {name}=, which the task does not take: {outcome}")
    positional = signature.positional
    count = None if sent.positional is None else sent.positional + sent.after_result
    if count is not None and not signature.varargs and count > len(positional):
        where = sent.position_key(len(positional) - sent.after_result) if len(positional) > 0 or not sent.after_result else None
        if sent.after_result:
            text = f"{callee} gets the previous result, then {sent.positional} more; the task takes {len(positional)}"
        else:
            text = f"{callee} passes {sent.positional} positional arguments, the task takes {len(positional)}"
        yield Problem("CEL009", where, f"{text}: {outcome}")
    if sent.partial or sent.positional is None:
        return
    given = {name for name, _ in sent.keywords}
    for index, param in enumerate(positional[: sent.positional]):
        if param.name in given and param.kind != "posonly":
            yield Problem("CEL009", sent.position_key(index),
                          f"{callee} passes {param.name} both by position and by keyword: {outcome}")
    if not sent.complete:
        return
    missing = [
        param.name for param in signature.params
        if param.kind in (*POSITIONAL, "kwonly") and not param.has_default
        and not (param.kind in POSITIONAL and positional.index(param) < sent.positional)
        and param.name not in given
    ]
    if missing:
        listed = ", ".join(missing)
        yield Problem("CEL009", None, f"{callee} leaves out the required {listed}: {outcome}")


def _execution_option(sent: Sent, name: str, key: str, swallowed: bool, outcome: str) -> Problem:
    effect = f"its **kwargs swallow it, no {name} is applied" if swallowed else outcome
    return Problem(
        "CEL022", key,
        f"{sent.callee}() passes {name}= to the task, not as an option: {effect}",
        # A signature takes its options through .set(); a send through apply_async().
        f"Use .set({name}=...) on the signature." if sent.how in ("s", "si") else f"Use apply_async(args, {name}=...).",
    )


EXPECTING_ERRORS = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertRaisesMessage"})


def _expects_error(call: CallFact) -> bool:
    """Inside `with pytest.raises(...)` / `self.assertRaises(...)`: the failure is the point."""
    for manager in call.managers:
        name = manager.last if isinstance(manager, Ref) else manager.attr if isinstance(manager, Attr) else ""
        if name in EXPECTING_ERRORS:
            return True
    return False


def _findings(project: Project, code: str) -> Iterator[Report]:
    # CEL009 and CEL022 look at the same calls: find them and their problems once.
    for problem, item in project.shared("signatures.problems", lambda: _all_problems(project)):
        if problem.code == code:
            yield item


def _all_problems(project: Project) -> List[Tuple[Problem, Report]]:
    found = []
    for info, call, task, sent in _task_calls(project):
        if _expects_error(call):
            continue
        signature = _known_signature(project, task, sent.how)
        if signature is None:
            continue
        for problem in _problems(project, task, signature, sent):
            loc = call.arg_loc(problem.key) if problem.key is not None else call.loc
            found.append((problem, report(info.rel, loc, problem.message, [_defined(task, signature)], problem.hint)))
    return found


def check_calls(project: Project) -> Iterator[Report]:
    return _findings(project, "CEL009")


def check_execution_options(project: Project) -> Iterator[Report]:
    return _findings(project, "CEL022")


def check_bind(project: Project) -> Iterator[Report]:
    for task in project.tasks:
        if not plain_task_function(task):
            continue
        bound = bind_option(task)
        params = task.function.params
        first = params[0] if params else None
        if bound is False and first is not None and first.kind in POSITIONAL and first.name == "self":
            classes = task_classes(project, task)
            if classes is None or not passes_arguments_through(project, classes):
                continue  # a base class's __call__ may pass the task itself
            loc = task.function.loc
            yield report(
                task.module.rel, loc,
                f"'{task.function.name}' takes self without bind=True: the caller's first argument lands in self, "
                "the rest shift by one",
                [related_at(task.module.rel, task.decorator_loc.line, task.decorator_loc.col, "the task decorator")],
                hint="Add bind=True.",
            )
        elif bound is True and not any(param.kind in (*POSITIONAL, "vararg") for param in params):
            loc = task.decorator_loc
            yield report(
                task.module.rel, loc,
                f"bind=True passes the task as first argument, but '{task.function.name}' has no positional "
                "parameter: every call fails with TypeError",
                hint="Add self.",
            )


CEL009_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def add(x, y):
    return x + y
# --- proj/views.py
from proj.tasks import add


def total(a, b, c):
    add.delay(a, b, c)  # expect: CEL009
    add.apply_async((a,), {"y": b, "z": c})  # expect: CEL009
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task(bind=True, max_retries=3)
def sync(self, account_id, full=False):
    return account_id


def resync_all(ids):
    for account_id in ids:
        sync.delay(account_id, True, 3)  # expect: CEL009
    sync.si()  # expect: CEL009
    sync(account_id=1, fast=True)  # expect: CEL009
    sync.signature((1,), {"quick": True})  # expect: CEL009
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task(typing=False)
def archive(path):
    return path


def archive_all(root, name):
    archive.delay(root, name)  # expect: CEL009
    archive.apply((root,), {"name": name})  # expect: CEL009
'''
    ),
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
def store(path):
    return path


def mirror(url, path):
    chain(fetch.s(url), store.s(path))  # expect: CEL009
    fetch.s(url) | store.s(path)  # expect: CEL009
'''
    ),
)
CEL009_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery, chain

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task(bind=True)
def fetch(self, url, retries=3):
    return url


@app.task
def parse(page, strict=False):
    return page


@app.task
def log(*args, **kwargs):
    return args


def crawl(url, extra, options):
    fetch.delay(url)
    fetch.apply_async(args=(url,), kwargs={"retries": 1}, countdown=5)
    chain(fetch.s(url), parse.s(strict=True)).delay()  # parse gets fetch's result first
    parse.delay(*extra)  # the shape of extra is not known
    parse.apply_async(kwargs=options)
    log.delay(1, 2, 3, level="x")
# --- tests/test_tasks.py
import pytest

from proj.tasks import parse


def test_parse_needs_a_page():
    with pytest.raises(TypeError):
        parse.delay()  # the failure is what the test checks
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/jobs.py
class Mailer:
    def delay(self, *args):
        return args


mailer = Mailer()


def send():
    mailer.delay(1, 2, 3)  # not a task
'''
    ),
)

CEL014_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task(max_retries=3)
def refresh(self, feed_id):  # expect: CEL014
    try:
        return feed_id
    except IOError as exc:
        raise self.retry(exc=exc)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import shared_task


@shared_task(bind=True)  # expect: CEL014
def cleanup():
    return None
'''
    ),
)
CEL014_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task(bind=True, max_retries=3)
def refresh(self, feed_id):
    try:
        return feed_id
    except IOError as exc:
        raise self.retry(exc=exc)


@app.task(bind=True)
def log(*args):
    return args[1:]
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery, Task

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


class SelfTask(Task):
    def __call__(self, *args, **kwargs):
        return self.run(self, *args, **kwargs)  # hands the task to the function itself


@app.task(base=SelfTask)
def refresh(self, feed_id):
    return feed_id
'''
    ),
)

CEL022_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def send_reminder(user_id):
    return user_id
# --- proj/views.py
from proj.tasks import send_reminder


def remind_later(user_id):
    send_reminder.delay(user_id, countdown=3600)  # expect: CEL022
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def export(report_id, **filters):
    return report_id, filters


def nightly(report_id):
    export.delay(report_id, queue="exports")  # expect: CEL022
'''
    ),
)
CEL022_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def send_reminder(user_id):
    return user_id


@app.task
def schedule(event_id, eta):
    return event_id, eta  # eta is this task's own argument


def remind_later(user_id, event_id, when):
    send_reminder.apply_async((user_id,), countdown=3600)
    schedule.delay(event_id, eta=when)
'''
    ),
)


def _consequence_doc() -> str:
    return (
        "Celery checks a call's arguments against the task function when it is sent (`typing=True`, "
        "the default): the caller gets `TypeError` and nothing is sent. With `typing=False`, and for "
        "chain and chord members, the message is sent and the worker fails the task with `TypeError`."
    )


RULE = Rule(
    code="CEL009",
    name="call-signature-mismatch",
    summary="A call passes arguments the task function cannot take.",
    what=(
        "Checks `.delay()`, `.apply_async(args, kwargs)`, `.apply()`, `.s()`, `.si()`, "
        "`.signature(args, kwargs)` and direct calls "
        "of known tasks against the task function: too many positionals, an unknown keyword, a "
        "required argument left out, one given twice. With `bind=True` the caller does not pass "
        "`self`. A partial `.s()` (or `.signature()`) may get more arguments later (a chain passes "
        "the previous result first), so only its excess is checked. Silent for `*args`/`**kwargs` tasks, for spreads "
        "of unknown shape (`*payload`), for tasks with other decorators and for task classes that "
        "override how a call is made."
    ),
    why=_consequence_doc(),
    fix="Pass what the function takes, or change the function.",
    invalid=CEL009_INVALID,
    valid=CEL009_VALID,
    check=check_calls,
)

BIND_RULE = Rule(
    code="CEL014",
    name="bind-mismatch",
    summary="A task whose first parameter is `self` without bind=True, or bind=True with no parameter for it.",
    what=(
        "Finds task functions whose first parameter is `self` but whose decorator does not say "
        "`bind=True`, and `bind=True` tasks whose function has no positional parameter. Silent for "
        "methods, for task decorators of project wrappers, and for Task classes whose `__call__` may "
        "pass the task itself."
    ),
    why=(
        "Without `bind=True` Celery calls the function with the caller's arguments only: the first "
        "one lands in `self`, `self.retry()` fails, and every call is one argument short "
        "(`TypeError: missing 1 required positional argument`). With `bind=True` Celery passes the "
        "task as the first argument, so a function with no parameter for it fails on every call."
    ),
    fix="Add `bind=True` to a task that uses `self`; give a bound task a `self` parameter.",
    invalid=CEL014_INVALID,
    valid=CEL014_VALID,
    check=check_bind,
    autofix="safe",
)

EXECUTION_OPTION_RULE = Rule(
    code="CEL022",
    name="execution-option-in-delay",
    summary="An apply_async option (countdown, eta, queue...) given to delay(), which passes it to the task.",
    what=(
        "Finds `.delay()`, `.s()` and `.si()` calls on known tasks with a keyword that is one of "
        "`apply_async`'s execution options (read from the installed Celery: `countdown`, `eta`, "
        "`expires`, `queue`, `priority`, `task_id`, `link`, `retry`...) when the task function has "
        "no parameter of that name."
    ),
    why=(
        "`delay(*args, **kwargs)` is `apply_async(args, kwargs)`: every keyword is an argument of the "
        "task, never an option. With Celery's argument checking the caller gets `TypeError` at "
        "once; a task with `**kwargs` swallows it, and the task runs at once, on the default queue, "
        "with no expiry."
    ),
    fix="Use `apply_async`, with the task's arguments in a tuple: `send_reminder.apply_async((user_id,), countdown=3600)`.",
    invalid=CEL022_INVALID,
    valid=CEL022_VALID,
    check=check_execution_options,
    autofix="safe",
)
