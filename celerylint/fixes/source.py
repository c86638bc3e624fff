"""One file's source as the fixes edit it: its exact text (the editor's unsaved buffer first),
parsed with libcst on demand, with the positions of its nodes.

Imported only when fixes are asked for: a plain run never loads it (nor libcst through it).
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, List, Mapping, Optional, Tuple, Type, TypeVar

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from celerylint.discover import read_capped
from celerylint.fixes import TextEdit

if TYPE_CHECKING:
    from celerylint.engine import Analysis

NodeT = TypeVar("NodeT", bound=cst.CSTNode)
# Python's own line breaks (str.splitlines also breaks at \f, \x1c, \u2028...: not lines to libcst).
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def read_text(root: Path, rel: str, overrides: Mapping[Path, bytes]) -> Optional[str]:
    """The file's text as the run saw it (unsaved editor content first), or None when it
    cannot be read or is not UTF-8 (a fix never guesses an encoding)."""
    path = root / rel
    data = overrides.get(path)
    if data is None:
        data = read_capped(path)
        if data is None:
            return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def lines_of(text: str) -> List[str]:
    """The text's lines without their line breaks, as Python counts lines."""
    return LINE_BREAK.split(text)


@dataclass
class Source:
    """A file's text, its libcst module and node positions (1-based lines, 0-based columns)."""

    rel: str
    text: str

    @cached_property
    def lines(self) -> List[str]:
        """The lines as libcst numbers them (without a byte order mark)."""
        return lines_of(self.text[1:] if self.text.startswith("\ufeff") else self.text)

    @cached_property
    def _parsed(self) -> Optional[Tuple[MetadataWrapper, Mapping[cst.CSTNode, CodeRange]]]:
        try:
            wrapper = MetadataWrapper(cst.parse_module("\n".join(self.lines)))
        except (cst.ParserSyntaxError, RecursionError, ValueError):
            return None
        return wrapper, wrapper.resolve(PositionProvider)

    @property
    def parses(self) -> bool:
        return self._parsed is not None

    @property
    def module(self) -> cst.Module:
        assert self._parsed is not None
        return self._parsed[0].module

    def nodes(self, kind: Type[NodeT]) -> Iterator[Tuple[NodeT, CodeRange]]:
        """Every node of this type with its span, in source order."""
        for node, where in self._in_order:
            if isinstance(node, kind):
                yield node, where

    @cached_property
    def _in_order(self) -> List[Tuple[cst.CSTNode, CodeRange]]:
        if self._parsed is None:
            return []
        found = list(self._parsed[1].items())
        found.sort(key=lambda item: (item[1].start.line, item[1].start.column, -item[1].end.line, -item[1].end.column))
        return found

    def span(self, node: cst.CSTNode) -> CodeRange:
        assert self._parsed is not None
        return self._parsed[1][node]

    def text_of(self, node: cst.CSTNode) -> str:
        """The node's text exactly as written (comments inside it included)."""
        where = self.span(node)
        if where.start.line == where.end.line:
            return self.lines[where.start.line - 1][where.start.column : where.end.column]
        parts = [self.lines[where.start.line - 1][where.start.column :]]
        parts.extend(self.lines[where.start.line : where.end.line - 1])
        parts.append(self.lines[where.end.line - 1][: where.end.column])
        return "\n".join(parts)

    def replace(self, node: cst.CSTNode, new_text: str) -> TextEdit:
        where = self.span(node)
        return TextEdit(where.start.line, self.column(where.start.line, where.start.column), where.end.line,
                        self.column(where.end.line, where.end.column), new_text)

    def insert_after(self, node: cst.CSTNode, new_text: str) -> TextEdit:
        where = self.span(node)
        col = self.column(where.end.line, where.end.column)
        return TextEdit(where.end.line, col, where.end.line, col, new_text)

    def column(self, line: int, column: int) -> int:
        """A libcst column as a column of the file's text (an edit's column): libcst parsed
        the text without its byte order mark, so line 1 is one column shorter there."""
        return column + 1 if line == 1 and self.text.startswith("\ufeff") else column

    def indent_of(self, line: int) -> str:
        text = self.lines[line - 1]
        return text[: len(text) - len(text.lstrip())]


class Sources:
    """The sources of one analysis, each read and parsed once."""

    def __init__(self, analysis: "Analysis") -> None:
        self.analysis = analysis
        self._cache: Dict[str, Optional[Source]] = {}
        self._why: Dict[str, str] = {}

    def get(self, rel: str) -> Optional[Source]:
        if rel not in self._cache:
            text = read_text(self.analysis.root, rel, self.analysis.overrides)
            source = Source(rel, text) if text is not None else None
            if text is None:
                self._why[rel] = "the file cannot be read as UTF-8 (a fix never guesses an encoding)"
            elif source is not None and not source.parses:
                self._why[rel] = "the file does not parse"
            self._cache[rel] = source if source is not None and source.parses else None
        return self._cache[rel]

    def why_not(self, rel: str) -> Optional[str]:
        """Why the file cannot be fixed at all (None when it can be)."""
        return None if self.get(rel) is not None else self._why.get(rel, "the file cannot be read")


def string_value(node: cst.CSTNode) -> Optional[str]:
    """The value of a plain string literal (no f-string, no concatenation), else None."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def string_inner(source: Source, node: cst.SimpleString, new_value: str) -> Optional[TextEdit]:
    """An edit replacing the characters of a simple string between its quotes, when the
    string is written plainly (no escapes, no raw or byte prefix trouble)."""
    quote = node.quote
    prefix = node.prefix
    written = node.value[len(prefix) + len(quote) : len(node.value) - len(quote)]
    if "\\" in written or "\\" in new_value or quote[0] in new_value or "b" in prefix.lower():
        return None
    where = source.span(node)
    if where.start.line != where.end.line:
        return None
    start = source.column(where.start.line, where.start.column) + len(prefix) + len(quote)
    return TextEdit(where.start.line, start, where.start.line, start + len(written), new_value)


def comments_in(text: str) -> int:
    """How many comments the text holds (-1 when it does not tokenize: count it as unsafe)."""
    try:
        return sum(token.type == tokenize.COMMENT for token in tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return -1
