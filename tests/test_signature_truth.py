"""CEL009, CEL014 and CEL022 checked against the installed Celery: each bad case of these rules
(our own example code, not a user's) is imported with an in-memory broker, the flagged call is
run, and it must fail the way the finding's message says."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, Iterator, List, Tuple
from unittest import mock

import pytest
from celery import Celery
from celery.app.task import Task

from celerylint.config import Settings
from celerylint.engine import run
from celerylint.findings import Finding
from celerylint.rules import RULES_BY_CODE
from celerylint.rules.base import EXPECT, Case
from tests.conftest import write_project

CODES = ("CEL009", "CEL014", "CEL022")
IN_MEMORY = 'broker="memory://", backend="cache+memory://"'


def _cases() -> List[Tuple[str, int, Case]]:
    return [(code, number, case) for code in CODES for number, case in enumerate(RULES_BY_CODE[code].invalid, 1)]


class _Names(dict):  # type: ignore[type-arg]
    """Locals for running one flagged line: the module's names, and 1 for any local it uses."""

    def __init__(self, module: Any) -> None:
        super().__init__()
        self.module = module

    def __missing__(self, name: str) -> Any:
        if hasattr(self.module, name):
            return getattr(self.module, name)
        import builtins

        return getattr(builtins, name) if hasattr(builtins, name) else 1


def _findings(case: Case, code: str, root: Path) -> List[Finding]:
    write_project(root, case.files())
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    return [finding for finding in findings if finding.code == code]


def _import_case(root: Path, case: Case) -> Iterator[None]:
    """Import the case's modules from a copy whose apps use an in-memory broker and backend."""
    copy = root.parent / (root.name + "-run")
    write_project(copy, {path: text.replace('broker="redis://", backend="redis://"', IN_MEMORY) for path, text in case.files().items()})
    fallback = Celery("fallback", broker="memory://", backend="cache+memory://")
    fallback.set_current()  # @shared_task in a case with no app of its own binds here
    sys.path.insert(0, str(copy))
    try:
        yield
    finally:
        sys.path.remove(str(copy))
        for name in [name for name in sys.modules if name == "proj" or name.startswith("proj.")]:
            del sys.modules[name]


def _module(path: str) -> Any:
    return importlib.import_module(path[: -len(".py")].replace("/", ".").removesuffix(".__init__"))


def _flagged_expression(case: Case, finding: Finding) -> str:
    line = case.files()[finding.path].splitlines()[finding.line - 1]
    return EXPECT.sub("", line).split("  #")[0].strip()


def _task_of(module: Any, finding: Finding) -> Task:  # type: ignore[type-arg]
    """CEL014 is reported on the task's def or decorator: the task defined there."""
    source = Path(module.__file__).read_text().splitlines()
    for line in source[finding.line - 1:]:
        if line.startswith("def "):
            return getattr(module, line[4:].split("(")[0])  # type: ignore[no-any-return]
    raise AssertionError("no task after the finding")


def _check_call(module: Any, expression: str, message: str, code: str) -> None:
    names = _Names(module)
    with mock.patch.object(Celery, "send_task", autospec=True) as send_task:
        if "TypeError in the caller, nothing is sent" in message or "TypeError at the call" in message:
            with pytest.raises(TypeError):
                eval(expression, {}, names)
            assert not send_task.called
        elif "gets the previous result" in message:
            workflow = eval(expression, {}, names)
            assert workflow.apply().failed()  # run member after member, as workers do: the callback fails
            assert isinstance(workflow.apply().result, TypeError)
        elif "TypeError when the signature is sent or run" in message:
            signature = eval(expression, {}, names)
            with pytest.raises(TypeError):
                signature.delay()
            assert not send_task.called
            assert signature.apply().failed()  # run by a worker (eagerly here): the task fails
        elif "sent, then the worker fails it with TypeError" in message:
            eval(expression, {}, names)
            assert send_task.called  # no check in the caller: the message leaves
            (_, _, args, kwargs), options = send_task.call_args[0][:4], send_task.call_args[1]
            result = options["task_type"].apply(args, kwargs)  # what a worker does with it
            assert result.failed() and isinstance(result.result, TypeError)
        elif "the task fails with TypeError" in message:
            result = eval(expression, {}, names)
            assert result.failed() and isinstance(result.result, TypeError)
        elif "swallow it" in message:
            option = message.split("passes ", 1)[1].split("=", 1)[0]
            eval(expression, {}, names)
            (_, _, args, kwargs), options = send_task.call_args[0][:4], send_task.call_args[1]
            assert option in kwargs and options.get(option) is None  # an argument of the task, not an option
        else:
            raise AssertionError(f"{code}: no run-time check for the message {message!r}")


def _check_declaration(task: Task, message: str) -> None:  # type: ignore[type-arg]
    params = [name for name in task.run.__code__.co_varnames[: task.run.__code__.co_argcount]]
    with mock.patch.object(Celery, "send_task", autospec=True) as send_task:
        if "lands in self" in message:
            # A caller passes what the function needs besides self: one short, TypeError.
            with pytest.raises(TypeError, match="missing 1 required positional argument"):
                task.delay(*range(len(params) - 1))
            # With the declared count, the first argument lands in `self`.
            result = task.apply(tuple(range(len(params))))
            assert not result.failed()
        elif "every call fails with TypeError" in message:
            with pytest.raises(TypeError):
                task.delay()
            assert not send_task.called
            assert task.apply().failed()
        else:
            raise AssertionError(f"no run-time check for the message {message!r}")


@pytest.mark.parametrize("code, number, case", _cases(), ids=[f"{code}-invalid-{n}" for code, n, _ in _cases()])
def test_each_bad_case_fails_at_run_time_as_its_message_says(code: str, number: int, case: Case, tmp_path: Path) -> None:
    root = tmp_path / "project"
    findings = _findings(case, code, root)
    assert findings, "the case must give findings to check"
    for _ in _import_case(root, case):
        for finding in findings:
            module = _module(finding.path)
            if code == "CEL014":
                _check_declaration(_task_of(module, finding), finding.message)
            else:
                _check_call(module, _flagged_expression(case, finding), finding.message, code)


@pytest.mark.parametrize("code", [*CODES, "CEL020"])
def test_messages_are_short(code: str, tmp_path: Path) -> None:
    for number, case in enumerate(RULES_BY_CODE[code].invalid):
        for finding in _findings(case, code, tmp_path / str(number)):
            assert len(finding.message) <= 150, finding.message
