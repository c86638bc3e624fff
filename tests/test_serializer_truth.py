"""CEL005's idea of what JSON (and msgpack) cannot encode, checked against kombu itself.

The msgpack and SQLAlchemy checks need those packages (the test extra installs them); without
them they skip."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import pathlib
import uuid
from typing import Any, Callable, Dict, Iterator

import pytest
from kombu.exceptions import EncodeError
from kombu.serialization import dumps

from celerylint.rules.serialization import (
    MSGPACK_ENCODES, MSGPACK_UNENCODABLE_CALLS, OPAQUE_KINDS, PLAIN_ENUM_BASES, SERIALIZERS, UNENCODABLE_CALLS,
)


class Plain:
    pass


def _module_function() -> None:
    pass


def _encodes(value: object, serializer: str = "json") -> bool:
    if serializer == "msgpack":
        pytest.importorskip("msgpack")
    try:
        dumps(((value,), {}, {}), serializer=serializer)
    except (EncodeError, TypeError):
        return False
    return True


def _session() -> Any:
    orm = pytest.importorskip("sqlalchemy.orm")
    return orm.Session()


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


SESSIONS = {"sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session"}
MSGPACK_SAMPLES: Dict[str, Callable[[], object]] = {
    "datetime.datetime": lambda: datetime.datetime(2024, 1, 2),
    "datetime.datetime.now": datetime.datetime.now,
    "datetime.datetime.utcnow": datetime.datetime.utcnow,
    "datetime.datetime.today": datetime.datetime.today,
    "datetime.datetime.fromtimestamp": lambda: datetime.datetime.fromtimestamp(0),
    "datetime.datetime.utcfromtimestamp": lambda: datetime.datetime.utcfromtimestamp(0),
    "datetime.datetime.fromisoformat": lambda: datetime.datetime.fromisoformat("2024-01-02"),
    "datetime.datetime.strptime": lambda: datetime.datetime.strptime("2024", "%Y"),
    "datetime.datetime.combine": lambda: datetime.datetime.combine(datetime.date.today(), datetime.time()),
    "datetime.date": lambda: datetime.date(2024, 1, 2),
    "datetime.date.today": datetime.date.today,
    "datetime.date.fromisoformat": lambda: datetime.date.fromisoformat("2024-01-02"),
    "datetime.time": lambda: datetime.time(1, 2),
    # django.utils.timezone's functions return datetime / date objects.
    "django.utils.timezone.now": lambda: datetime.datetime.now(datetime.timezone.utc),
    "django.utils.timezone.localtime": lambda: datetime.datetime.now(datetime.timezone.utc),
    "django.utils.timezone.localdate": datetime.date.today,
    "uuid.UUID": lambda: uuid.UUID(int=1),
    "uuid.uuid1": uuid.uuid1,
    "uuid.uuid3": lambda: uuid.uuid3(uuid.NAMESPACE_DNS, "x"),
    "uuid.uuid4": uuid.uuid4,
    "uuid.uuid5": lambda: uuid.uuid5(uuid.NAMESPACE_DNS, "x"),
    "decimal.Decimal": lambda: decimal.Decimal("1.10"),
}


def _sample(name: str) -> object:
    if name in SESSIONS:
        return _session()
    if name in MSGPACK_SAMPLES:
        return MSGPACK_SAMPLES[name]()
    return REJECTED["builtins.open" if name == "io.open" else name]


@pytest.mark.parametrize("name", sorted(UNENCODABLE_CALLS))
def test_flagged_constructors_really_fail(name: str) -> None:
    assert not _encodes(_sample(name))


@pytest.mark.parametrize("name", sorted(SERIALIZERS["msgpack"]))
def test_flagged_constructors_really_fail_with_msgpack(name: str) -> None:
    assert not _encodes(_sample(name), "msgpack")


def test_every_msgpack_only_entry_really_encodes_with_json() -> None:
    """The msgpack-only table is exactly what kombu's JSON type registry adds."""
    assert set(MSGPACK_SAMPLES) == set(MSGPACK_UNENCODABLE_CALLS)
    for name in MSGPACK_UNENCODABLE_CALLS:
        assert _encodes(_sample(name)), name


@pytest.mark.parametrize("name", sorted(MSGPACK_ENCODES))
def test_what_msgpack_is_not_flagged_for_really_encodes(name: str) -> None:
    assert _encodes(_sample(name), "msgpack")


@pytest.mark.parametrize("serializer", ["json", "msgpack"])
def test_flagged_kinds_really_fail(serializer: str) -> None:
    samples = {"genexp": (x for x in ()), "setcomp": {x for x in (1,)}, "lambda": lambda: 0, "complex": 1j}
    assert set(samples) == set(OPAQUE_KINDS)
    for value in samples.values():
        assert not _encodes(value, serializer)
    assert not _encodes(Plain(), serializer)
    assert not _encodes(_module_function, serializer)


class Color(enum.Enum):
    RED = 1


class Permission(enum.Flag):
    READ = 1


class Shade(str, enum.Enum):
    DARK = "dark"


class Size(enum.IntEnum):
    BIG = 2


class Mode(enum.IntFlag):
    FAST = 1


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("serializer", ["json", "msgpack"])
def test_plain_enum_members_really_fail(serializer: str) -> None:
    members = {"enum.Enum": Color.RED, "enum.Flag": Permission.READ}
    assert set(members) == set(PLAIN_ENUM_BASES)
    for member in members.values():
        assert not _encodes(member, serializer)


@pytest.mark.parametrize("serializer", ["json", "msgpack"])
def test_mixin_enum_members_really_encode(serializer: str) -> None:
    for member in (Shade.DARK, Size.BIG, Mode.FAST):
        assert _encodes(member, serializer)
    if hasattr(enum, "StrEnum"):
        assert _encodes(enum.StrEnum("Tone", {"LIGHT": "light"}).LIGHT, serializer)


@pytest.mark.parametrize("serializer", ["json", "msgpack"])
def test_namedtuples_encode_and_arrive_as_lists(serializer: str) -> None:
    """Not CEL005: the call succeeds; the task receives a list (no `.x`)."""
    if serializer == "msgpack":
        pytest.importorskip("msgpack")
    from kombu.serialization import loads

    content_type, encoding, body = dumps(((Point(1, 2),), {}, {}), serializer=serializer)
    assert loads(body, content_type, encoding, accept={content_type})[0][0] == [1, 2]


def _orm_instance() -> object:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    orm = pytest.importorskip("sqlalchemy.orm")

    class Base(orm.DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "user"
        id = sqlalchemy.Column(sqlalchemy.Integer, primary_key=True)

    return User(id=1)


@pytest.mark.parametrize("serializer", ["json", "msgpack"])
def test_orm_instances_and_sessions_really_fail(serializer: str) -> None:
    assert not _encodes(_orm_instance(), serializer)
    assert not _encodes(_session(), serializer)


@pytest.fixture
def registered_plain() -> Iterator[None]:
    from kombu.utils import json as kombu_json

    kombu_json.register_type(Plain, "plain", lambda value: {}, lambda data: Plain())
    yield
    kombu_json._encoders.pop(Plain)
    kombu_json._decoders.pop("plain")


def test_register_type_makes_a_class_encodable(registered_plain: None) -> None:
    """Why CEL005 is silent for a class (and its subclasses) given to register_type()."""
    assert _encodes(Plain())
    assert _encodes(type("Sub", (Plain,), {})())


def test_registering_a_serializer_named_json_replaces_kombus(tmp_path: Any) -> None:
    """Why CEL005 is silent when the project registers its own "json"."""
    import pickle

    from kombu.serialization import register, register_json

    register("json", lambda value: pickle.dumps(value).hex(), lambda data: pickle.loads(bytes.fromhex(data)),
             content_type="application/json", content_encoding="utf-8")
    try:
        assert _encodes({1, 2})
    finally:
        register_json()
    assert not _encodes({1, 2})


@pytest.mark.parametrize(
    "value",
    [datetime.datetime.now(), datetime.date.today(), datetime.time(1, 2), decimal.Decimal("1.5"), uuid.uuid4(), b"x", (1, 2), {"a": 1}],
)
def test_values_celerylint_accepts_really_encode(value: object) -> None:
    assert _encodes(value)


@pytest.mark.parametrize("value", [b"x", bytearray(b"x"), (1, 2), {"a": 1}, [1, "a", None, 1.5, True]])
def test_values_celerylint_accepts_with_msgpack_really_encode(value: object) -> None:
    assert _encodes(value, "msgpack")


def teardown_module() -> None:
    REJECTED["builtins.open"].close()
