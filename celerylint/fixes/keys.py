"""Where a configuration key is written in the source, and how to rename it there: the name of a
keyword (`conf.update(BROKER_URL=...)`), of an assignment (`BROKER_URL = ...` in a config module
or class, `conf.BROKER_URL = ...`), or the text of a string key (`{"BROKER_URL": ...}`,
`conf["BROKER_URL"] = ...`). Strings passed to calls (`os.environ.get("BROKER_URL")`, `env(...)`)
name environment variables, never the key: they are neither renamed nor counted."""

from __future__ import annotations

from typing import List, Optional, Union

import libcst as cst

from celerylint.fixes import TextEdit
from celerylint.fixes.source import Source, string_inner, string_value

KeyNode = Union[cst.Name, cst.SimpleString]


def _statement_at(source: Source, line: int, col: int) -> Optional[cst.BaseSmallStatement]:
    """The simple statement that starts at (line, col), or that holds that position."""
    holding: Optional[cst.BaseSmallStatement] = None
    for node, where in source.nodes(cst.BaseSmallStatement):  # type: ignore[type-abstract]
        start, end = where.start, where.end
        if (start.line, start.column) == (line, col):
            return node
        if (start.line, start.column) <= (line, col) < (end.line, end.column):
            holding = node
    return holding


class _KeysWritten(cst.CSTVisitor):
    """The places a statement writes a configuration key named ``key``."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.found: List[KeyNode] = []

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None and node.keyword.value == self.key:
            self.found.append(node.keyword)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if isinstance(node.key, cst.SimpleString) and string_value(node.key) == self.key:
            self.found.append(node.key)

    def _target(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name) and target.value == self.key:
            self.found.append(target)
        elif isinstance(target, cst.Attribute) and target.attr.value == self.key:
            self.found.append(target.attr)
        elif isinstance(target, cst.Subscript):
            index = string_key(target)
            if index is not None and string_value(index) == self.key:
                self.found.append(index)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._target(element.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target)


def locate_key(source: Source, line: int, col: int, key: str) -> Optional[KeyNode]:
    """The one place the statement at (line, 0-based col) writes ``key``, or None (not found,
    or written more than once)."""
    for node, where in source.nodes(cst.Name):
        if (where.start.line, where.start.column) == (line, col) and node.value == key:
            return node
    statement = _statement_at(source, line, col)
    if statement is None:
        return None
    visitor = _KeysWritten(key)
    statement.visit(visitor)
    return visitor.found[0] if len(visitor.found) == 1 else None


def rename(source: Source, node: KeyNode, new: str) -> Optional[TextEdit]:
    """The edit that writes ``new`` in place of the key, or None (a string with escapes)."""
    if isinstance(node, cst.Name):
        return source.replace(node, new)
    return string_inner(source, node, new)


class _Mentions(cst.CSTVisitor):
    """Where a file may read a name: identifiers (a module or class binding included, a second
    one would be left behind), attribute reads, and strings used as lookups. Not counted: the
    keys other statements write (a keyword, a dict key, `conf.X = ...`, `conf["X"] = ...`),
    which another configuration may share, nor strings passed to calls (environment variables:
    `os.environ.get("X")`, `env("X")`) or `os.environ["X"]` lookups."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def visit_Name(self, node: cst.Name) -> None:
        self.count += node.value == self.name

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self.count += string_value(node) == self.name

    def visit_Arg(self, node: cst.Arg) -> Optional[bool]:
        if not isinstance(node.value, (cst.SimpleString, cst.ConcatenatedString)):
            node.value.visit(self)
        return False

    def visit_DictElement(self, node: cst.DictElement) -> Optional[bool]:
        if not isinstance(node.key, cst.SimpleString):
            node.key.visit(self)
        node.value.visit(self)
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> Optional[bool]:
        target = node.target
        if isinstance(target, cst.Attribute):
            target.value.visit(self)
            return False
        if isinstance(target, cst.Subscript) and string_key(target) is not None:
            target.value.visit(self)
            return False
        return None

    def visit_Subscript(self, node: cst.Subscript) -> Optional[bool]:
        base = node.value
        if (isinstance(base, cst.Attribute) and base.attr.value == "environ") or (isinstance(base, cst.Name) and base.value == "environ"):
            return False
        return None


def string_key(node: cst.Subscript) -> Optional[cst.SimpleString]:
    """The string of `x["key"]`, else None."""
    if len(node.slice) == 1:
        index = node.slice[0].slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString):
            return index.value
    return None


def mentions(source: Source, name: str) -> int:
    """How many times the file names ``name`` (see _Mentions)."""
    visitor = _Mentions(name)
    source.module.visit(visitor)
    return visitor.count
