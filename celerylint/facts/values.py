"""Turn libcst expressions into facts.types values, qualifying names through scopes."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import libcst as cst

from celerylint.facts.common import MAX_VALUE_DEPTH
from celerylint.facts.types import (
    SeqKind,
    Attr,
    BinOp,
    Call,
    Const,
    DictVal,
    IterItem,
    LambdaVal,
    Opaque,
    Ref,
    Seq,
    Sub,
    Value,
)


Qualifier = Callable[[str], Ref]


def dotted_name(node: cst.BaseExpression) -> Optional[str]:
    """``a.b.c`` for a pure Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _string_value(node: cst.BaseExpression) -> Optional[str]:
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # noqa: BLE001 - an odd literal is just unknown
            return None
        return value if isinstance(value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        left = _string_value(node.left)
        right = _string_value(node.right)
        if left is not None and right is not None:
            return left + right
    return None


class ValueBuilder:
    """Builds Values; ``qualify`` maps a dotted name to a Ref.

    ``memo`` (by node identity, for one module's traversal) makes a nested call's value the
    same object wherever it appears, so pickling the facts stores it once.
    """

    def __init__(self, qualify: Qualifier, memo: Optional[Dict[int, Value]] = None) -> None:
        self.qualify = qualify
        self.memo: Dict[int, Value] = memo if memo is not None else {}

    def build(self, node: cst.BaseExpression, depth: int = 0) -> Value:
        key = id(node)
        cached = self.memo.get(key)
        if cached is not None:
            return cached
        value = self._build(node, depth)
        if not (isinstance(value, Opaque) and value.kind == "deep"):
            self.memo[key] = value
        return value

    def _build(self, node: cst.BaseExpression, depth: int) -> Value:
        if depth > MAX_VALUE_DEPTH:
            return Opaque("deep")
        name = dotted_name(node)
        if name is not None:
            if name in ("True", "False", "None"):
                return Const({"True": True, "False": False, "None": None}[name])
            return self.qualify(name)
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            return Opaque(type(node).__name__.lower())
        return method(node, depth + 1)  # type: ignore[no-any-return]

    def _SimpleString(self, node: cst.SimpleString, depth: int) -> Value:
        try:
            value = node.evaluated_value
        except Exception:  # noqa: BLE001
            return Opaque("str")
        return Const(value)

    def _ConcatenatedString(self, node: cst.ConcatenatedString, depth: int) -> Value:
        value = _string_value(node)
        return Const(value) if value is not None else Opaque("str")

    def _FormattedString(self, node: cst.FormattedString, depth: int) -> Value:
        return Opaque("fstring")

    def _Integer(self, node: cst.Integer, depth: int) -> Value:
        try:
            return Const(int(node.value.replace("_", ""), 0))
        except ValueError:
            return Opaque("int")

    def _Float(self, node: cst.Float, depth: int) -> Value:
        try:
            return Const(float(node.value.replace("_", "")))
        except ValueError:
            return Opaque("float")

    def _Imaginary(self, node: cst.Imaginary, depth: int) -> Value:
        return Opaque("complex")

    def _UnaryOperation(self, node: cst.UnaryOperation, depth: int) -> Value:
        inner = self.build(node.expression, depth)
        if isinstance(node.operator, cst.Minus) and isinstance(inner, Const):
            if isinstance(inner.value, (int, float)) and not isinstance(inner.value, bool):
                return Const(-inner.value)
        if isinstance(node.operator, cst.Not):
            return Opaque("bool")
        return Opaque("expr")

    def _Attribute(self, node: cst.Attribute, depth: int) -> Value:
        return Attr(self.build(node.value, depth), node.attr.value)

    def _Call(self, node: cst.Call, depth: int) -> Value:
        args = []
        kwargs = []
        has_star = False
        for arg in node.args:
            if arg.star:
                has_star = True
            elif arg.keyword is not None:
                kwargs.append((arg.keyword.value, self.build(arg.value, depth)))
            else:
                args.append(self.build(arg.value, depth))
        return Call(self.build(node.func, depth), tuple(args), tuple(kwargs), has_star)

    def _Subscript(self, node: cst.Subscript, depth: int) -> Value:
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return Opaque("subscript")
        return Sub(self.build(node.value, depth), self.build(node.slice[0].slice.value, depth))

    def _sequence(self, kind: SeqKind, elements: Tuple[cst.BaseElement, ...], depth: int) -> Value:
        items: List[Value] = []
        has_star = False
        for element in elements:
            if isinstance(element, cst.StarredElement):
                has_star = True
                items.append(IterItem(self.build(element.value, depth)))  # `*xs` spreads all of xs
            else:
                items.append(self.build(element.value, depth))
        return Seq(kind, tuple(items), has_star)

    def _List(self, node: cst.List, depth: int) -> Value:
        return self._sequence("list", tuple(node.elements), depth)

    def _Tuple(self, node: cst.Tuple, depth: int) -> Value:
        return self._sequence("tuple", tuple(node.elements), depth)

    def _Set(self, node: cst.Set, depth: int) -> Value:
        return self._sequence("set", tuple(node.elements), depth)

    def _Dict(self, node: cst.Dict, depth: int) -> Value:
        items = []
        spread = False
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                items.append((self.build(element.key, depth), self.build(element.value, depth)))
            else:  # `**other`
                spread = True
        return DictVal(tuple(items), spread)

    def _BinaryOperation(self, node: cst.BinaryOperation, depth: int) -> Value:
        op = type(node.operator).__name__
        return BinOp(op, self.build(node.left, depth), self.build(node.right, depth))

    def _Lambda(self, node: cst.Lambda, depth: int) -> Value:
        params = node.params
        if params.params or params.kwonly_params or params.posonly_params:
            return Opaque("lambda")
        return LambdaVal(self.build(node.body, depth))

    def _GeneratorExp(self, node: cst.GeneratorExp, depth: int) -> Value:
        return Opaque("genexp")

    def _ListComp(self, node: cst.ListComp, depth: int) -> Value:
        return Opaque("listcomp")

    def _SetComp(self, node: cst.SetComp, depth: int) -> Value:
        return Opaque("setcomp")

    def _DictComp(self, node: cst.DictComp, depth: int) -> Value:
        return Opaque("dictcomp")

    def _Await(self, node: cst.Await, depth: int) -> Value:
        return Opaque("await")
