"""A reader for the block YAML that compose files are written in, with the line of every node.

It knows block mappings and sequences, plain and quoted scalars, block scalars (`|`, `>`),
flow collections (`[a, b]`, `{a: b}`, over several lines), anchors, aliases and merge keys
(`<<: *base`). Anything else (tags, complex keys, several documents) raises YamlError: the
caller then knows nothing of the file, which is the answer a precise tool wants. No YAML
library is needed for this subset, and this one keeps lines, which a loaded document loses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

MAX_NODES = 100_000  # an alias bomb or a generated file is no compose file


class YamlError(ValueError):
    """The text is not in the subset this reader knows."""


@dataclass(frozen=True)
class Scalar:
    text: Optional[str]  # None: null (nothing, `~`, `null`)
    line: int
    end: int


@dataclass(frozen=True)
class Sequence:
    items: Tuple["Node", ...]
    line: int
    end: int


@dataclass(frozen=True)
class Mapping:
    items: Tuple[Tuple[str, int, "Node"], ...]  # key, the key's line, value (merged keys included)
    line: int
    end: int

    def get(self, key: str) -> Optional["Node"]:
        return next((node for name, _, node in self.items if name == key), None)

    def entry(self, key: str) -> Optional[Tuple[str, int, "Node"]]:
        return next((item for item in self.items if item[0] == key), None)


Node = Union[Scalar, Sequence, Mapping]


@dataclass
class _Line:
    number: int
    indent: int
    text: str  # without the indentation; comments still in


KEY_END = re.compile(r":(?=\s|$)")
QUOTED_KEY = re.compile(r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')\s*:(?=\s|$)""")
PLAIN_KEY_START = re.compile(r"""[^\s#'"\[\]{},&*!|>%@`-]|-[^\s#]""")
MAX_DEPTH = 200  # nesting deeper than any compose file; bounds the recursion


def _key(text: str) -> Optional[Tuple[str, str]]:
    """`key: rest` as (the key as written, the rest), or None: no key starts the text. One
    linear search, no backtracking pattern (a long line of spaces stays cheap)."""
    quoted = QUOTED_KEY.match(text)
    if quoted:
        return quoted.group(1), text[quoted.end():].strip()
    if not PLAIN_KEY_START.match(text):
        return None
    end = KEY_END.search(text)
    if end is None or "#" in text[: end.start()] and re.search(r"\s#", text[: end.start()]):
        return None
    key = text[: end.start()].rstrip()
    return (key, text[end.end():].strip()) if key else None
NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def parse(text: str) -> Node:
    """The first document of text as nodes; YamlError when it is outside the subset."""
    return _Parser(text).document()


class _Parser:
    def __init__(self, text: str) -> None:
        self.raw = text.splitlines()
        self.lines: List[_Line] = []
        for number, raw in enumerate(self.raw, 1):
            stripped = raw.lstrip(" ")
            if not stripped or stripped.startswith("#") or not stripped.strip():
                continue
            if stripped.startswith("\t"):
                raise YamlError(f"a tab indents line {number}")
            if stripped.startswith("%"):
                continue  # a directive
            self.lines.append(_Line(number, len(raw) - len(stripped), stripped.rstrip()))
        self.pos = 0
        self.anchors: Dict[str, Node] = {}
        self.nodes = 0
        self.depth = 0

    def document(self) -> Node:
        if self.lines and self.lines[0].text.startswith("---"):
            rest = self.lines[0].text[3:].strip()
            if rest and not rest.startswith("#"):
                raise YamlError("content after ---")
            self.pos = 1
        if self.pos >= len(self.lines):
            return Scalar(None, 1, 1)
        node = self._block(self.lines[self.pos].indent)
        if self.pos < len(self.lines) and not self.lines[self.pos].text.startswith(("---", "...")):
            raise YamlError(f"unexpected indentation at line {self.lines[self.pos].number}")
        return node

    def _count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlError("too many nodes")

    # --- block structure ------------------------------------------------------------------

    def _block(self, indent: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise YamlError("nested too deep")
        try:
            return self._block_at(indent)
        finally:
            self.depth -= 1

    def _block_at(self, indent: int) -> Node:
        line = self.lines[self.pos]
        if _is_item(line.text):
            return self._sequence(indent)
        if _key(line.text):
            return self._mapping(indent)
        self.pos += 1
        return self._value(line.text, line.number, indent - 1, in_mapping=False)

    def _mapping(self, indent: int) -> Mapping:
        first = self.lines[self.pos].number
        explicit: List[Tuple[str, int, Node]] = []
        merged: List[Node] = []
        end = first
        while self.pos < len(self.lines) and self.lines[self.pos].indent == indent:
            line = self.lines[self.pos]
            if _is_item(line.text):
                break  # a sequence at the parent key's indent ended the value before it
            found = _key(line.text)
            if found is None:
                raise YamlError(f"not a key at line {line.number}")
            key = _unquote_key(found[0], line.number)
            self.pos += 1
            value = self._value(found[1], line.number, indent, in_mapping=True)
            end = max(end, value.end if value.line >= line.number else line.number)
            if key == "<<":
                merged.extend(value.items if isinstance(value, Sequence) else (value,))
            else:
                explicit.append((key, line.number, value))
        if self.pos < len(self.lines) and self.lines[self.pos].indent > indent:
            raise YamlError(f"unexpected indentation at line {self.lines[self.pos].number}")
        items = list(explicit)
        seen = {key for key, _, _ in explicit}
        for source in merged:  # explicit keys win; an earlier merged mapping beats a later one
            if not isinstance(source, Mapping):
                raise YamlError("a merge key names something that is not a mapping")
            for key, number, value in source.items:
                if key not in seen:
                    seen.add(key)
                    items.append((key, number, value))
        self._count()
        return Mapping(tuple(items), first, end)

    def _sequence(self, indent: int) -> Sequence:
        first = self.lines[self.pos].number
        items: List[Node] = []
        end = first
        while self.pos < len(self.lines) and self.lines[self.pos].indent == indent and _is_item(self.lines[self.pos].text):
            line = self.lines[self.pos]
            rest = line.text[1:].lstrip(" ")
            offset = len(line.text) - len(rest)
            if rest and not rest.startswith("#") and (_key(rest) or _is_item(rest)):
                # `- key: value` opens a mapping whose keys line up with `key`
                self.lines[self.pos] = _Line(line.number, indent + offset, rest)
                node = self._block(indent + offset)
            else:
                self.pos += 1
                node = self._value(rest, line.number, indent, in_mapping=False)
            items.append(node)
            end = max(end, node.end)
        self._count()
        return Sequence(tuple(items), first, end)

    def _value(self, rest: str, number: int, indent: int, in_mapping: bool) -> Node:
        """The value after `key:` or `- ` on line `number`, whose parent sits at `indent`."""
        rest = _drop_comment_start(rest)
        anchor = None
        if rest.startswith("&"):
            anchor, _, rest = rest[1:].partition(" ")
            rest = _drop_comment_start(rest.strip())
        if rest.startswith("!"):
            raise YamlError(f"a tag at line {number}")
        if rest.startswith("*"):
            name = _strip_comment(rest)[1:]
            if name not in self.anchors:
                raise YamlError(f"unknown alias {name}")
            node = self.anchors[name]
        elif not rest:
            following = self.lines[self.pos] if self.pos < len(self.lines) else None
            if following is not None and (following.indent > indent or (in_mapping and following.indent == indent and _is_item(following.text))):
                node = self._block(following.indent)
            else:
                node = Scalar(None, number, number)
        elif rest[0] in "|>":
            node = self._block_scalar(rest, number, indent)
        elif rest[0] in "[{":
            node = self._flow(rest, number, indent)
        else:
            node = self._scalar(rest, number, indent)
        if anchor:
            self.anchors[anchor] = node
        self._count()
        return node

    def _continuation(self, indent: int) -> List[_Line]:
        """The following lines indented deeper than the parent: a scalar's or flow's next lines."""
        taken = []
        while self.pos < len(self.lines) and self.lines[self.pos].indent > indent:
            taken.append(self.lines[self.pos])
            self.pos += 1
        return taken

    def _scalar(self, rest: str, number: int, indent: int) -> Scalar:
        more = self._continuation(indent)
        end = more[-1].number if more else number
        if rest[0] in "\"'":
            text = " ".join([rest] + [line.text for line in more])
            value, after = _quoted(text, number)
            if _drop_comment_start(after.strip()):
                raise YamlError(f"text after a quoted scalar at line {number}")
            return Scalar(value, number, end)
        parts = [_strip_comment(rest)] + [_strip_comment(line.text) for line in more]
        text = " ".join(part for part in parts if part)
        if ": " in text or text.endswith(":"):
            raise YamlError(f"a key inside a scalar at line {number}")
        return Scalar(None if text in NULLS else text, number, end)

    def _block_scalar(self, rest: str, number: int, indent: int) -> Scalar:
        header = _strip_comment(rest)
        if not re.fullmatch(r"[|>][+-]?[1-9]?|[|>][1-9][+-]", header):
            raise YamlError(f"a block scalar header at line {number}")
        body: List[str] = []
        end = number
        raw_index = number  # raw lines are 1-based: self.raw[number] is the next line
        while raw_index < len(self.raw):
            raw = self.raw[raw_index]
            if raw.strip() and len(raw) - len(raw.lstrip(" ")) <= indent:
                break
            body.append(raw)
            raw_index += 1
            if raw.strip():
                end = raw_index
        while self.pos < len(self.lines) and self.lines[self.pos].number <= end:
            self.pos += 1
        lines = body[: end - number]
        margin = min((len(raw) - len(raw.lstrip(" ")) for raw in lines if raw.strip()), default=0)
        content = [raw[margin:] for raw in lines]
        text = "\n".join(content) if header[0] == "|" else " ".join(part.strip() for part in content if part.strip())
        return Scalar(text, number, end)

    def _flow(self, rest: str, number: int, indent: int) -> Node:
        parts = [rest]
        end = number
        depth, quote = _scan(rest, 0, "")
        while depth > 0:
            if self.pos >= len(self.lines) or self.lines[self.pos].indent <= indent:
                raise YamlError(f"an unclosed flow collection at line {number}")
            line = self.lines[self.pos]
            parts.append(line.text)
            depth, quote = _scan(" " + line.text, depth, quote)
            end = line.number
            self.pos += 1
        node, after = _FlowReader(" ".join(parts), number, end, self.anchors).read()
        if _drop_comment_start(after.strip()):
            raise YamlError(f"text after a flow collection at line {number}")
        return node


class _FlowReader:
    def __init__(self, text: str, line: int, end: int, anchors: Dict[str, Node]) -> None:
        self.text, self.i, self.line, self.end, self.anchors = text, 0, line, end, anchors
        self.level = 0

    def read(self) -> Tuple[Node, str]:
        node = self._node()
        return node, self.text[self.i:]

    def _skip(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t":
            self.i += 1

    def _node(self) -> Node:
        self._skip()
        if self.i >= len(self.text):
            raise YamlError(f"a flow collection ends early at line {self.line}")
        char = self.text[self.i]
        if char in "[{":
            self.i += 1
            return self._collection("]" if char == "[" else "}")
        if char in "\"'":
            value, after = _quoted(self.text[self.i:], self.line)
            self.i = len(self.text) - len(after)
            return Scalar(value, self.line, self.end)
        if char == "*":
            match = re.compile(r"\*([^\s,\]}]+)").match(self.text, self.i)
            if match is None or match.group(1) not in self.anchors:
                raise YamlError(f"unknown alias at line {self.line}")
            self.i = match.end()
            return self.anchors[match.group(1)]
        if char in "&!":
            raise YamlError(f"an anchor or tag inside a flow collection at line {self.line}")
        match = re.compile(r"[^,\]}]*?(?=\s*(?:[,\]}]|:\s|$))").match(self.text, self.i)
        assert match is not None  # the pattern matches the empty string
        self.i = match.end()
        value = match.group(0).strip()
        return Scalar(None if value in NULLS else value, self.line, self.end)

    def _collection(self, close: str) -> Node:
        self.level += 1
        if self.level > MAX_DEPTH:
            raise YamlError(f"a flow collection nested too deep at line {self.line}")
        try:
            return self._collection_items(close)
        finally:
            self.level -= 1

    def _collection_items(self, close: str) -> Node:
        items: List[Node] = []
        pairs: List[Tuple[str, int, Node]] = []
        while True:
            self._skip()
            if self.i < len(self.text) and self.text[self.i] == close:
                self.i += 1
                break
            item = self._node()
            self._skip()
            if close == "}":
                if not (isinstance(item, Scalar) and self.text.startswith(":", self.i)):
                    raise YamlError(f"a flow mapping without a key at line {self.line}")
                self.i += 1
                value = self._node()
                pairs.append((item.text or "", self.line, value))
                self._skip()
            else:
                items.append(item)
            if self.i < len(self.text) and self.text[self.i] == ",":
                self.i += 1
            elif not (self.i < len(self.text) and self.text[self.i] == close):
                raise YamlError(f"a flow collection is malformed at line {self.line}")
        if close == "}":
            return Mapping(tuple(pairs), self.line, self.end)
        return Sequence(tuple(items), self.line, self.end)


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _strip_comment(text: str) -> str:
    """A plain scalar ends where ` #` starts a comment."""
    match = re.search(r"(^|\s)#", text)
    return (text[: match.start()] if match else text).strip()


def _drop_comment_start(text: str) -> str:
    return "" if text.startswith("#") else text


def _scan(text: str, depth: int, quote: str) -> Tuple[int, str]:
    """The flow brackets open, and the quote open, after text, starting from those given
    (a comment ends the line outside quotes)."""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "#" and (index == 0 or text[index - 1] in " \t"):
            break
        index += 1
    return depth, quote


ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "/": "/", "0": "\0", " ": " ", "r": "\r"}


def _quoted(text: str, number: int) -> Tuple[str, str]:
    """A quoted scalar at the start of text: its value, and the text after the closing quote."""
    quote = text[0]
    out: List[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if quote == "'" and char == "'":
            if text.startswith("''", index):
                out.append("'")
                index += 2
                continue
            return "".join(out), text[index + 1:]
        if quote == '"' and char == "\\" and index + 1 < len(text):
            escaped = text[index + 1]
            if escaped not in ESCAPES:
                raise YamlError(f"an escape this reader does not know at line {number}")
            out.append(ESCAPES[escaped])
            index += 2
            continue
        if quote == '"' and char == '"':
            return "".join(out), text[index + 1:]
        out.append(char)
        index += 1
    raise YamlError(f"an unclosed quote at line {number}")


def _unquote_key(key: str, number: int) -> str:
    if key[:1] in ("\"", "'"):
        value, after = _quoted(key, number)
        if after.strip():
            raise YamlError(f"a malformed key at line {number}")
        return value
    return key.strip()
