"""Fixes at task definitions and calls. CEL014: add bind=True to the decorator of a task that
takes self. CEL022: `t.delay(x, countdown=10)` to `t.apply_async((x,), countdown=10)` (and
`t.s(x, countdown=10)` to `t.s(x).set(countdown=10)`). CEL020 (unsafe): write the one option
name the finding suggests."""

from __future__ import annotations

import re
from typing import Dict, Iterator, List, Optional, Tuple, Union

import libcst as cst

from celerylint.findings import Finding
from celerylint.fixes import TextEdit
from celerylint.fixes.context import FixContext, Outcome, suggested, unfixed
from celerylint.fixes.source import Source, comments_in, lines_of
from celerylint.rules.signatures import EXECUTION_OPTION_RULE


def _decorator_at(source: Source, line: int, col: int) -> Optional[cst.Decorator]:
    """The decorator whose expression starts at (line, 1-based col)."""
    for node, _ in source.nodes(cst.Decorator):
        where = source.span(node.decorator)
        if (where.start.line, where.start.column) == (line, col - 1):
            return node
    return None


def _add_keyword(source: Source, call: cst.Call, text: str) -> TextEdit:
    """An edit adding ``text`` (`bind=True`) as the call's last argument, formatting kept."""
    if call.args:
        return source.insert_after(call.args[-1].value, f", {text}")
    where = source.span(call)
    line = where.end.line
    col = source.column(line, where.end.column) - 1  # just before the closing parenthesis
    return TextEdit(line, col, line, col, text)


def bind_mismatch(ctx: FixContext, findings: List[Finding]) -> Iterator[Outcome]:
    """CEL014: `@app.task` -> `@app.task(bind=True)`, `@shared_task(x=1)` -> `@shared_task(x=1, bind=True)`."""
    for finding in findings:
        decorators = [item for item in finding.related if item.message == "the task decorator"]
        if not decorators:
            yield from unfixed([finding], "no safe fix: give the function a parameter for the task (self), or drop bind=True")
            continue
        source = ctx.sources.get(finding.path)
        decorator = None if source is None else _decorator_at(source, decorators[0].line, decorators[0].col)
        if source is None or decorator is None:
            yield from unfixed([finding], "the task decorator was not found")
            continue
        expression = decorator.decorator
        if isinstance(expression, cst.Call):
            bind = [arg for arg in expression.args if arg.keyword is not None and arg.keyword.value == "bind"]
            edit = source.replace(bind[0].value, "True") if bind else _add_keyword(source, expression, "bind=True")
        elif isinstance(expression, (cst.Name, cst.Attribute)):
            edit = source.insert_after(expression, "(bind=True)")
        else:
            yield from unfixed([finding], "the task decorator is not a plain name or call")
            continue
        yield ctx.fix(finding.path, "Add bind=True to the task decorator", [edit], [finding])


# The rule's message names the option, its hint the one spelling it suggests.
UNKNOWN_OPTION = re.compile(r"^(?P<name>\w+)= is not a task option")
SUGGESTION = re.compile(r"^Did you mean (?P<new>\w+)=\?$")


def unknown_option(ctx: FixContext, findings: List[Finding]) -> Iterator[Outcome]:
    """CEL020 (unsafe: the suggestion is a guess): write the suggested option name."""
    for finding in findings:
        names = suggested(finding, UNKNOWN_OPTION, SUGGESTION)
        if names is None:
            yield from unfixed([finding], "no option name to suggest")
            continue
        name, new = names
        source = ctx.sources.get(finding.path)
        decorator = None if source is None else _decorator_at(source, finding.line, finding.col)
        call = decorator.decorator if decorator is not None else None
        if source is None or not isinstance(call, cst.Call):
            yield from unfixed([finding], "the task decorator was not found")
            continue
        keywords = {arg.keyword.value: arg.keyword for arg in call.args if arg.keyword is not None}
        if name not in keywords or new in keywords:
            yield from unfixed([finding], f"{new}= is given too" if new in keywords else f"{name}= was not found")
            continue
        yield ctx.fix(finding.path, f"Rename {name}= to {new}=", [source.replace(keywords[name], new)], [finding])


def _calls_by_keyword(source: Source) -> Dict[Tuple[int, int], Tuple[cst.Call, cst.Arg]]:
    """Each keyword argument of a `.delay()`, `.s()` or `.si()` call, by its 1-based position."""
    found: Dict[Tuple[int, int], Tuple[cst.Call, cst.Arg]] = {}
    for call, _ in source.nodes(cst.Call):
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("delay", "s", "si"):
            for arg in call.args:
                if arg.keyword is not None:  # a finding points at the keyword or at its value
                    for node in (arg, arg.value):
                        where = source.span(node)
                        found[(where.start.line, source.column(where.start.line, where.start.column) + 1)] = (call, arg)
    return found


def _arg_text(source: Source, arg: cst.Arg) -> str:
    value = source.text_of(arg.value)
    if arg.keyword is not None:
        return f"{arg.keyword.value}={value}"
    return f"{arg.star}{value}"


def _text_between(source: Source, start: Tuple[int, int], end: Tuple[int, int]) -> str:
    """The file's text between two edit positions (line, column)."""
    lines = lines_of(source.text)[start[0] - 1 : end[0]]
    lines[-1] = lines[-1][: end[1]]
    lines[0] = lines[0][start[1] :]
    return "\n".join(lines)


def _sent_later(source: Source, call: cst.Call, options: List[cst.Arg]) -> Union[List[TextEdit], str]:
    """`t.delay(x, y=1, countdown=10)` -> `t.apply_async((x,), kwargs={"y": 1}, countdown=10)`;
    `t.s(x, countdown=10)` -> `t.s(x).set(countdown=10)`. The arguments' text is replaced from
    the first to the last (the layout around them and a trailing comma stay)."""
    assert isinstance(call.func, cst.Attribute)
    rest = [arg for arg in call.args if arg not in options]
    option_text = ", ".join(_arg_text(source, arg) for arg in options)
    first, last = source.span(call.args[0]), source.span(call.args[-1])
    start = (first.start.line, source.column(first.start.line, first.start.column))
    end = (last.end.line, source.column(last.end.line, last.end.column))
    region = _text_between(source, start, end)
    if comments_in(region) != sum(max(comments_in(_arg_text(source, arg)), 0) for arg in call.args):
        return "a comment between the arguments would be lost: rewrite it by hand"
    if call.func.attr.value in ("s", "si"):
        kept = ", ".join(_arg_text(source, arg) for arg in rest)
        if not kept:  # nothing left inside the parentheses, a trailing comma included
            whole = source.span(call)
            end = (whole.end.line, source.column(whole.end.line, whole.end.column) - 1)
        return [TextEdit(*start, *end, kept), source.insert_after(call, f".set({option_text})")]
    positional = [source.text_of(arg.value) for arg in rest if arg.keyword is None]
    keywords = [(arg.keyword.value, source.text_of(arg.value)) for arg in rest if arg.keyword is not None]
    parts = []
    if positional:
        parts.append("(" + ", ".join(positional) + ("," if len(positional) == 1 else "") + ")")
    if keywords:
        parts.append("kwargs={" + ", ".join(f'"{name}": {value}' for name, value in keywords) + "}")
    parts.append(option_text)
    return [source.replace(call.func.attr, "apply_async"), TextEdit(*start, *end, ", ".join(parts))]


def execution_option(ctx: FixContext, findings: List[Finding]) -> Iterator[Outcome]:
    """CEL022: every execution option of the call moves out of the task's arguments at once
    (the rule's findings for the whole file decide which keywords are options)."""
    by_call: Dict[int, Tuple[cst.Call, List[Finding]]] = {}
    keywords: Dict[str, Dict[Tuple[int, int], Tuple[cst.Call, cst.Arg]]] = {}
    for finding in findings:
        source = ctx.sources.get(finding.path)
        if source is not None and finding.path not in keywords:
            keywords[finding.path] = _calls_by_keyword(source)
        hit = None if source is None else keywords[finding.path].get((finding.line, finding.col))
        if source is None or hit is None:
            yield from unfixed([finding], "the call was not found")
            continue
        by_call.setdefault(id(hit[0]), (hit[0], []))[1].append(finding)
    every = [f for f in EXECUTION_OPTION_RULE.run(ctx.analysis.project)]
    for call, hits in by_call.values():
        path = hits[0].path
        source = ctx.sources.get(path)
        assert source is not None
        positions = keywords[path]
        options = [arg for f in every if f.path == path for (c, arg) in [positions.get((f.line, f.col), (None, None))] if c is call and arg is not None]
        options.sort(key=lambda arg: call.args.index(arg))
        is_delay = isinstance(call.func, cst.Attribute) and call.func.attr.value == "delay"
        if is_delay and any(arg.star for arg in call.args):
            yield from unfixed(hits, "a *args or **kwargs spread may hold args= or kwargs=: rewrite it by hand")
            continue
        edits = _sent_later(source, call, options)
        if isinstance(edits, str):
            yield from unfixed(hits, edits)
            continue
        title = "Send with apply_async() and the options" if is_delay else "Set the options with .set()"
        yield ctx.fix(path, title, edits, hits)
