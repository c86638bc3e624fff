"""The names, attributes and looked-up keys a module's values read: computed once per file with
its facts (and cached with them), since walking every value of a project costs a tenth of a run."""

from __future__ import annotations

from typing import FrozenSet, Iterable, List, Set

from celerylint.facts.types import Attr, BinOp, Call, Const, DictVal, IterItem, LambdaVal, Ref, Seq, Sub, Value


def names_read(values: Iterable[Value]) -> FrozenSet[str]:
    """Every name and attribute the values read, and every key they look up: a config key a
    project reads itself (`settings.CELERY_ENABLED`, `getattr(settings, "X")`) is its own."""
    found: Set[str] = set()
    for value in values:
        _collect(value, found)
    return frozenset(found)


def _environ(value: Value) -> bool:
    return isinstance(value, Ref) and value.path.rsplit(".", 1)[-1] in ("environ", "env")


def _collect(value: Value, found: Set[str]) -> None:
    # Dispatch on the exact type (each value type is final): this walks every value of a file.
    stack: List[Value] = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is Ref:
            assert isinstance(item, Ref)
            found.update(item.path.split("."))
        elif kind is Attr:
            assert isinstance(item, Attr)
            found.add(item.attr)
            stack.append(item.base)
        elif kind is Call:
            assert isinstance(item, Call)
            func = item.func
            if isinstance(func, Ref) and func.last in ("getattr", "hasattr"):
                # getattr(settings, "CELERY_X"); not env("CELERY_X"), which names a variable
                found.update(arg.value for arg in item.args[1:2] if isinstance(arg, Const) and isinstance(arg.value, str))
            elif isinstance(func, Ref) and func.last == "get" and "." in func.path:
                if not _environ(Ref(func.scope, func.path.rpartition(".")[0])):
                    found.update(arg.value for arg in item.args[:1] if isinstance(arg, Const) and isinstance(arg.value, str))
            stack.append(func)
            stack.extend(item.args)
            stack.extend(argument for _, argument in item.kwargs)
        elif kind is Sub:
            assert isinstance(item, Sub)
            if isinstance(item.key, Const) and isinstance(item.key.value, str):
                if not _environ(item.base):  # config["CELERY_X"]; not os.environ["CELERY_X"]
                    found.add(item.key.value)
            else:
                stack.append(item.key)
            stack.append(item.base)
        elif kind is Seq:
            assert isinstance(item, Seq)
            stack.extend(item.items)
        elif kind is DictVal:
            assert isinstance(item, DictVal)
            for key, element in item.items:
                stack.append(key)
                stack.append(element)
        elif kind is BinOp:
            assert isinstance(item, BinOp)
            stack.append(item.left)
            stack.append(item.right)
        elif kind is IterItem:
            assert isinstance(item, IterItem)
            stack.append(item.base)
        elif kind is LambdaVal:
            assert isinstance(item, LambdaVal)
            stack.append(item.body)
