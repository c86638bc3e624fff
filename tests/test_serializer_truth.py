"""CEL005's idea of what JSON cannot encode, checked against kombu itself."""

from __future__ import annotations

import datetime
import decimal
import pathlib
import uuid

import pytest
from kombu.exceptions import EncodeError
from kombu.serialization import dumps

from celerylint.rules.serialization import OPAQUE_KINDS, UNENCODABLE_CALLS


class Plain:
    pass


def _module_function() -> None:
    pass


def _encodes(value: object) -> bool:
    try:
        dumps(((value,), {}, {}), serializer="json")
    except (EncodeError, TypeError):
        return False
    return True


REJECTED = {
    "builtins.set": {1},
    "builtins.frozenset": frozenset({1}),
    "builtins.open": open(__file__),  # noqa: SIM115 - closed at module teardown
    "builtins.bytearray": bytearray(b"x"),
    "builtins.complex": complex(1, 2),
    "builtins.range": range(3),
    "datetime.timedelta": datetime.timedelta(seconds=1),
    "pathlib.Path": pathlib.Path("x"),
    "pathlib.PurePath": pathlib.PurePath("x"),
}


@pytest.mark.parametrize("name", sorted(UNENCODABLE_CALLS))
def test_flagged_constructors_really_fail(name: str) -> None:
    if name == "io.open":
        name = "builtins.open"
    assert not _encodes(REJECTED[name])


def test_flagged_kinds_really_fail() -> None:
    samples = {"genexp": (x for x in ()), "setcomp": {x for x in (1,)}, "lambda": lambda: 0, "complex": 1j}
    assert set(samples) == set(OPAQUE_KINDS)
    for value in samples.values():
        assert not _encodes(value)
    assert not _encodes(Plain())
    assert not _encodes(_module_function)


@pytest.mark.parametrize(
    "value",
    [datetime.datetime.now(), datetime.date.today(), datetime.time(1, 2), decimal.Decimal("1.5"), uuid.uuid4(), b"x", (1, 2), {"a": 1}],
)
def test_values_celerylint_accepts_really_encode(value: object) -> None:
    assert _encodes(value)


def teardown_module() -> None:
    REJECTED["builtins.open"].close()
