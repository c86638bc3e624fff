"""CEL005: a task argument the JSON serializer cannot encode."""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from celerylint.facts.types import (
    Attr, Call, CallFact, DictVal, IterItem, LambdaVal, Opaque, Ref, Seq, Value,
)
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project, TaskDef
from celerylint.model.resolve import AttrOf, ClassObj, ExtObj, FuncObj, InstObj, Obj
from celerylint.findings import Related
from celerylint.rules.base import Report, Rule, case, related_at, report
from celerylint.model.flask import REQUEST_NAMES, SQLALCHEMY, is_orm_model

# Calls whose result kombu's JSON cannot encode (tests/test_serializer_truth.py runs each).
UNENCODABLE_CALLS = {
    "builtins.set": "a set",
    "builtins.frozenset": "a frozenset",
    "builtins.open": "an open file",
    "io.open": "an open file",
    "builtins.bytearray": "a bytearray",
    "builtins.complex": "a complex number",
    "builtins.range": "a range",
    "datetime.timedelta": "a timedelta",
    "pathlib.Path": "a pathlib.Path",
    "pathlib.PurePath": "a pathlib.PurePath",
    "sqlalchemy.orm.Session": "a SQLAlchemy Session",
    "sqlalchemy.orm.session.Session": "a SQLAlchemy Session",
}
# msgpack has no encoder for what kombu's JSON encodes through its type registry...
MSGPACK_UNENCODABLE_CALLS = {
    **{f"datetime.datetime{how}": "a datetime" for how in ("", ".now", ".utcnow", ".today", ".fromtimestamp", ".utcfromtimestamp", ".fromisoformat", ".strptime", ".combine")},
    "datetime.date": "a date",
    "datetime.date.today": "a date",
    "datetime.date.fromisoformat": "a date",
    "datetime.time": "a time",
    "django.utils.timezone.now": "a datetime",
    "django.utils.timezone.localtime": "a datetime",
    "django.utils.timezone.localdate": "a date",
    "uuid.UUID": "a UUID",
    **{f"uuid.uuid{n}": "a UUID" for n in (1, 3, 4, 5)},
    "decimal.Decimal": "a Decimal",
}
# ...but packs bytearrays as bytes.
MSGPACK_ENCODES = frozenset({"builtins.bytearray"})
SERIALIZERS = {
    "json": {**UNENCODABLE_CALLS},
    "msgpack": {**{k: v for k, v in UNENCODABLE_CALLS.items() if k not in MSGPACK_ENCODES}, **MSGPACK_UNENCODABLE_CALLS},
}
SERIALIZER_LABELS = {"json": "JSON", "msgpack": "msgpack"}
OPAQUE_KINDS = {"genexp": "a generator", "setcomp": "a set", "lambda": "a lambda", "complex": "a complex number"}
OPAQUE_TYPES = {"setcomp": "builtins.set", "complex": "builtins.complex"}
QUERY_RESULT_METHODS = frozenset(
    {"get", "get_or_404", "first", "first_or_404", "one", "one_or_none", "one_or_404", "last", "latest", "earliest", "scalar_one"}
)
SESSION_GETTERS = frozenset({"get", "get_or_404", "get_one", "merge"})
# A SQLAlchemy Query keeps being a query through these; Select statements likewise.
QUERY_REFINERS = frozenset(
    {"filter", "filter_by", "where", "order_by", "join", "outerjoin", "options", "limit", "offset", "distinct",
     "group_by", "having", "execution_options", "with_for_update", "populate_existing", "select_from", "join_from",
     "yield_per", "params", "correlate", "unique"}
)
# Session (and Flask-SQLAlchemy 3 `db.`) methods that run a `select(M)`, and what they give.
SELECT_RUNNERS = {
    "scalars": "scalars", "scalar": "instance", "execute": "result",
    "first_or_404": "instance", "one_or_404": "instance",
}
SELECT_FUNCS = frozenset({"sqlalchemy.select", "sqlalchemy.sql.select", "sqlalchemy.future.select", "sqlalchemy.sql.expression.select"})
# Results of `session.query(M)`, `session.scalars(select(M))`, `session.execute(select(M))`:
# method -> the state it leads to ("instance": one ORM instance; "rows": not followed).
SESSION_RESULTS = {
    "query": {"first": "instance", "one": "instance", "one_or_none": "instance", "get": "instance", "scalar": "instance", "all": "list"},
    "scalars": {"first": "instance", "one": "instance", "one_or_none": "instance", "all": "list"},
    "result": {"scalars": "scalars", "scalar": "instance", "scalar_one": "instance", "scalar_one_or_none": "instance"},
}
# Enum bases whose members kombu cannot encode: no str/int mixin.
PLAIN_ENUM_BASES = frozenset({"enum.Enum", "enum.Flag"})
MAX_DEPTH = 6


def _steps(value: Value) -> List[Tuple[str, Optional[Call]]]:
    """`s.query(M).filter(x).first()` -> [("query", call), ("filter", call), ("first", call)];
    an attribute read without a call has None."""
    steps: List[Tuple[str, Optional[Call]]] = []
    pending: Optional[Call] = None
    current: Value = value
    for _ in range(24):
        if isinstance(current, Call):
            pending = current
            current = current.func
        elif isinstance(current, Attr):
            steps.append((current.attr, pending))
            pending = None
            current = current.base
        else:
            if isinstance(current, Ref):
                steps.append((current.last, pending))
            break
    return list(reversed(steps))


class ArgumentClassifier:
    """Says why a value cannot be encoded by the serializer, only on evidence."""

    def __init__(self, project: Project, info: ModuleInfo, scope: str, serializer: str = "json") -> None:
        self.project = project
        self.info = info
        self.scope = scope
        self.serializer = serializer
        self.unencodable = SERIALIZERS[serializer]
        self.changes = project.serializer_changes

    def resolve(self, value: Value) -> Obj:
        return self.project.resolve(self.info, self.scope, value)

    def why(self, value: Value, depth: int = 0) -> Optional[str]:
        if depth > MAX_DEPTH:
            return None
        if isinstance(value, LambdaVal):
            return "a lambda"
        if isinstance(value, Opaque):
            if value.kind in OPAQUE_TYPES:
                return self._external(OPAQUE_TYPES[value.kind])
            return OPAQUE_KINDS.get(value.kind)
        if isinstance(value, Seq):
            if value.kind == "set":
                return self._external("builtins.set")
            return self._first(value.items, depth)
        if isinstance(value, DictVal):
            return self._first(tuple(item for _, item in value.items), depth)
        if isinstance(value, Call):
            return self._call(value, depth)
        if isinstance(value, IterItem):
            return self._iterated(value.base, depth)
        if isinstance(value, Ref):
            return self._ref(value, depth)
        return None

    def _first(self, items: Tuple[Value, ...], depth: int) -> Optional[str]:
        for item in items:
            reason = self.why(item, depth + 1)
            if reason:
                return reason
        return None

    def _external(self, path: str) -> Optional[str]:
        label = self.unencodable.get(path)
        if label is None or (self.serializer == "json" and self.changes.json_may_encode([ExtObj(path)])):
            return None
        return label

    def _local(self, name: str) -> Optional[Value]:
        function = self.project.resolver.functions.get((self.info.name, self.scope))
        if function is not None:
            for binding in reversed(function.locals):
                if binding.name == name:
                    return binding.value
        return None

    def _iterated(self, base: Value, depth: int) -> Optional[str]:
        """An item of `for x in base`: ORM instances when base is a query of a model."""
        if isinstance(base, Ref) and base.scope == "local" and "." not in base.path:
            bound = self._local(base.path)
            return self._iterated(bound, depth + 1) if bound is not None and depth < MAX_DEPTH else None
        model = self._query_model(base, iterated=True) or self._session_model(base, iterated=True)
        return self._orm_instance(model) if model else None

    def _ref(self, ref: Ref, depth: int) -> Optional[str]:
        if ref.scope == "local" and "." not in ref.path:
            bound = self._local(ref.path)
            if bound is not None:
                return self.why(bound, depth + 1)
            function = self.project.resolver.functions.get((self.info.name, self.scope))
            for param in function.params if function is not None else ():
                if param.name == ref.path and param.annotation is not None:
                    return self._instance_of(self.resolve(param.annotation))
            return None
        obj = self.resolve(ref)
        if isinstance(obj, FuncObj) and "." not in obj.qualname:
            return f"the function {obj.qualname}()"
        if isinstance(obj, ExtObj):
            for prefix, label in REQUEST_NAMES.items():
                if obj.path == prefix:
                    return f"the {label} proxy"
        if "." in ref.path:
            return self._enum_member(ref)
        return None

    def _enum_member(self, ref: Ref) -> Optional[str]:
        """`Color.RED` of a plain `class Color(Enum)` (not `str`/`int` mixed in)."""
        owner_path, _, member = ref.path.rpartition(".")
        owner = self.resolve(Ref(ref.scope, owner_path))
        if not isinstance(owner, ClassObj) or member.startswith("_") or not self._plain_enum(owner):
            return None
        fact = self.project.resolver.classes.get((owner.module, owner.qualname))
        if fact is None or not any(binding.name == member for binding in fact.attributes):
            return None
        return f"the {owner.qualname}.{member} enum member"

    def _plain_enum(self, cls: ClassObj) -> bool:
        """Every base known, one of them enum.Enum/Flag, none a str/int mixin, no __json__."""
        resolver = self.project.resolver
        classes = list(resolver.mro(cls))
        if self.serializer == "json" and (self.changes.json_may_encode(classes) or resolver.class_attr(cls, "__json__") is not None):
            return False
        plain = False
        for item in classes:
            if isinstance(item, ExtObj) and item.path in PLAIN_ENUM_BASES:
                plain = True
            elif not (isinstance(item, ClassObj) or (isinstance(item, ExtObj) and item.path == "builtins.object")):
                return False
        return plain

    def _call(self, call: Call, depth: int) -> Optional[str]:
        model = self._query_model(call) or self._session_model(call)
        if model:
            return self._orm_instance(model)
        func = call.func
        if isinstance(func, Ref) and func.last in SESSION_GETTERS and call.args:
            owner = self.resolve(call.args[0])
            if is_orm_model(self.project.graph, owner):
                assert isinstance(owner, ClassObj)
                return self._orm_instance(owner)
        callee = self.resolve(func)
        if isinstance(callee, ExtObj):
            return self._external(callee.path)
        if isinstance(callee, ClassObj):
            if self._plain_enum(callee):
                return f"a {callee.qualname} enum member"
            return self._instance_of(callee)
        return None

    def _orm_instance(self, model: ClassObj) -> Optional[str]:
        if self.serializer == "json" and self.changes.json_may_encode(self.project.resolver.mro(model)):
            return None
        return f"a {model.qualname} ORM instance"

    def _instance_of(self, cls: Obj) -> Optional[str]:
        if isinstance(cls, ExtObj):
            return self._external(cls.path) if cls.path.startswith("sqlalchemy.") else None
        if not isinstance(cls, ClassObj):
            return None
        if is_orm_model(self.project.graph, cls):
            return self._orm_instance(cls)
        if self._plain_project_class(cls):
            return f"an instance of {cls.qualname}"
        return None

    def _plain_project_class(self, cls: ClassObj) -> bool:
        """Only project classes all the way up, and no __json__ (under JSON): kombu cannot encode them."""
        resolver = self.project.resolver
        classes = list(resolver.mro(cls))
        if self.serializer == "json" and self.changes.json_may_encode(classes):
            return False
        for item in classes:
            if isinstance(item, ClassObj):
                if self.serializer == "json" and resolver.class_attr(item, "__json__") is not None:
                    return False
            elif not (isinstance(item, ExtObj) and item.path == "builtins.object"):
                return False
        return True

    def _query_model(self, value: Value, iterated: bool = False) -> Optional[ClassObj]:
        """`Model.query.get(..)`, `Model.query.filter_by(..).first()`, `Model.objects.get(..)`."""
        chain: List[str] = []
        current: Value = value
        for _ in range(12):
            if isinstance(current, Call):
                current = current.func
            elif isinstance(current, Attr):
                chain.append(current.attr)
                current = current.base
            else:
                break
        if not isinstance(current, Ref):
            return None
        parts = current.path.split(".")
        names = parts + list(reversed(chain))
        for marker in ("query", "objects"):
            if marker not in names[1:]:
                continue
            cut = names.index(marker, 1)
            if cut > len(parts):
                continue  # the owner must be a plain name chain
            owner_path = ".".join(names[:cut])
            tail = names[cut + 1:]
            if not iterated and (not tail or tail[-1] not in QUERY_RESULT_METHODS):
                continue  # iterating any query yields instances; otherwise only these methods do
            owner = self.resolve(Ref(current.scope, owner_path))
            if is_orm_model(self.project.graph, owner):
                assert isinstance(owner, ClassObj)
                return owner
        return None

    def _session_model(self, value: Value, iterated: bool = False) -> Optional[ClassObj]:
        """An ORM instance from a SQLAlchemy session: `session.query(M).first()`,
        `session.scalars(select(M)).one()`, `session.execute(select(M)).scalar_one()`; with
        `iterated`, the items of `session.query(M)`, `session.scalars(select(M))`, `.all()`."""
        steps = _steps(value)
        state = ""
        model: Optional[ClassObj] = None
        for name, call in steps:
            if call is None:
                if state:
                    return None  # an attribute of a result (`.id`): not an instance
                continue
            if not state:
                first = call.args[0] if call.args else None
                if first is None:
                    continue
                if name == "query":
                    model, state = self._model(first), "query"
                elif name in SELECT_RUNNERS:
                    model, state = self._selected_model(first), SELECT_RUNNERS[name]
                if state and model is None:
                    return None
            elif state in ("query", "scalars") and name in QUERY_REFINERS:
                continue
            else:
                state = SESSION_RESULTS.get(state, {}).get(name, "")
                if not state:
                    return None
        if state == "instance" or (iterated and state in ("query", "scalars", "list")):
            return model
        return None

    def _model(self, value: Value) -> Optional[ClassObj]:
        obj = self.resolve(value)
        return obj if isinstance(obj, ClassObj) and is_orm_model(self.project.graph, obj) else None

    def _selected_model(self, value: Value) -> Optional[ClassObj]:
        """The model of `select(M)` (`db.select(M)`), possibly refined (`.where(...)`)."""
        steps = _steps(value)
        if not steps or any(call is None or name not in QUERY_REFINERS for name, call in steps[1:]):
            return None
        current: Value = value
        while isinstance(current, Call) and isinstance(current.func, Attr):
            current = current.func.base
        if not isinstance(current, Call) or not current.args:
            return None
        func = self.resolve(current.func)
        is_select = (isinstance(func, ExtObj) and func.path in SELECT_FUNCS) or (
            isinstance(func, AttrOf) and func.path == "select" and isinstance(func.base, InstObj) and func.base.cls in SQLALCHEMY
        )
        return self._model(current.args[0]) if is_select else None


def _arguments(call: CallFact) -> List[Tuple[Value, str]]:
    """(value, location key) for each task argument the call sends."""
    value = call.value
    func = value.func
    method = func.last if isinstance(func, Ref) else ""
    if method in ("delay", "s", "si"):
        return [(arg, str(i)) for i, arg in enumerate(value.args)] + [(v, k) for k, v in value.kwargs]
    result: List[Tuple[Value, str]] = []
    args = value.kwarg("args") or (value.args[0] if value.args else None)
    kwargs = value.kwarg("kwargs") or (value.args[1] if len(value.args) > 1 else None)
    key_args = "args" if value.kwarg("args") is not None else "0"
    key_kwargs = "kwargs" if value.kwarg("kwargs") is not None else "1"
    if isinstance(args, Seq):
        result.extend((item, key_args) for item in args.items)
    if isinstance(kwargs, DictVal):
        result.extend((item, key_kwargs) for _, item in kwargs.items)
    return result


def _task_def(task: TaskDef) -> Related:
    loc = task.decorator_loc
    return related_at(task.module.rel, loc.line, loc.col, f"the task '{task.name}' is defined here")


def check(project: Project) -> Iterator[Report]:
    for info, call in project.calls_named("delay", "apply_async", "s", "si", "signature"):
        func = call.value.func
        if not isinstance(func, Ref) or "." not in func.path:
            continue
        task = project.task_for(info, call.scope, Ref(func.scope, func.path.rpartition(".")[0]))
        if task is None:
            continue
        state, serializer = project.task_serializer(task, call)
        if state != "set" or serializer not in SERIALIZERS or project.serializer_changes.replaces(serializer):
            continue  # another serializer, or one the project registers itself: arguments unknown
        classifier = ArgumentClassifier(project, info, call.scope, serializer)
        for argument, key in _arguments(call):
            reason = classifier.why(argument)
            if reason is None:
                continue
            yield report(info.rel, call.arg_loc(key),
                f"argument to {func.path.rsplit('.', 2)[-2]}.{func.last}() is {reason}, which the "
                f"{SERIALIZER_LABELS[serializer]} serializer cannot encode: EncodeError in the caller, nothing is sent",
                [_task_def(task)],
                hint="Pass plain data instead (an id, a dict of fields, a list).",
            )


CEL005_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def tag(labels):
    return sorted(labels)


def view():
    tag.delay({"a", "b"})  # expect: CEL005
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def tag(names):
    return sorted(names)
# --- proj/views.py
from proj.celery_app import tag


def label():
    tag.apply_async(args=[{"a", "b"}])  # expect: CEL005
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/models.py
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
# --- proj/tasks.py
from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session

from proj.models import User

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def welcome(user):
    return user


def welcome_everyone(session: Session):
    for user in session.scalars(select(User).where(User.id > 0)):
        welcome.delay(user)  # expect: CEL005
    for user in session.query(User).filter_by(active=True):
        welcome.delay(user)  # expect: CEL005
    welcome.delay(session.get(User, 1))  # expect: CEL005
    first = session.query(User).order_by(User.id).first()
    welcome.delay(first)  # expect: CEL005
    newest = session.execute(select(User)).scalars().first()
    welcome.delay(user=newest)  # expect: CEL005
    everyone = session.scalars(select(User)).all()
    for user in everyone:
        welcome.delay(user)  # expect: CEL005
    welcome.delay(session)  # expect: CEL005
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/enums.py
import enum


class Channel(enum.Enum):
    EMAIL = "email"
    SMS = "sms"

    def label(self):
        return self.value.upper()


class Perm(enum.Flag):
    READ = enum.auto()
# --- proj/tasks.py
from celery import Celery

from proj.enums import Channel, Perm

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def notify(user_id, channel):
    return user_id, channel


def signup(user_id):
    notify.delay(user_id, Channel.EMAIL)  # expect: CEL005
    notify.delay(user_id, channel=Channel("sms"))  # expect: CEL005
    notify.apply_async(args=[user_id, Perm.READ])  # expect: CEL005
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celeryconfig.py
task_serializer = "msgpack"
accept_content = ["msgpack"]
# --- proj/tasks.py
import uuid
from datetime import datetime
from decimal import Decimal

from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")
app.config_from_object("proj.celeryconfig")


@app.task(time_limit=60)
def record(value):
    return value


def stamp():
    record.delay(datetime.now())  # expect: CEL005
    record.delay(uuid.uuid4())  # expect: CEL005
    record.delay({"price": Decimal("1.10")})  # expect: CEL005
    record.delay({1, 2})  # expect: CEL005
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/models.py
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
# --- proj/tasks.py
from celery import Celery

from proj.models import User, db

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def welcome(user):
    return user


def view(user_id):
    welcome.delay(db.one_or_404(db.select(User).filter_by(id=user_id)))  # expect: CEL005
    welcome.delay(db.session.scalars(db.select(User)).first())  # expect: CEL005
    welcome.delay(db.get_or_404(User, user_id))  # expect: CEL005
    welcome.delay(db.session.get(User, user_id).id)
    welcome.delay(db.one_or_404(db.select(User.id)))
'''
    ),
)
CEL005_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def tag(labels):
    return sorted(labels)


def view():
    tag.delay(["a", "b"])
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60, task_serializer="pickle")


@app.task
def tag(names):
    return sorted(names)
# --- proj/views.py
from proj.celery_app import tag


def label():
    tag.delay({"a", "b"})  # pickle encodes sets (CEL005 is about JSON)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


@app.task
def notify(user_id, options):
    return user_id
# --- proj/views.py
from proj.celery_app import notify


def signup(user, settings):
    notify.delay(user.id, settings.get("channels", []))  # an id and plain data
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery, Task

app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)


class PickledTask(Task):
    serializer = "pickle"  # the base chooses the serializer for its tasks


@app.task(base=PickledTask)
def tag(names):
    return sorted(names)
# --- proj/views.py
from proj.celery_app import tag


def label():
    tag.delay({"a", "b"})
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/models.py
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
# --- proj/tasks.py
from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session

from proj.models import User

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def welcome(user_id):
    return user_id


def welcome_everyone(session: Session):
    for user_id in session.scalars(select(User.id)):
        welcome.delay(user_id)
    for user in session.query(User):
        welcome.delay(user.id)
    welcome.delay(session.get(User, 1).id)
    welcome.delay(session.scalar(select(User.id).where(User.id == 1)))
    welcome.delay(session.query(User).count())
    welcome.delay([user.id for user in session.scalars(select(User))])
    welcome.delay(session.execute(select(User)).first())
    for row in session.execute(select(User.id, User.id)):
        welcome.delay(row)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/enums.py
import enum


class Channel(str, enum.Enum):
    EMAIL = "email"


class Priority(enum.IntEnum):
    HIGH = 1


class Plain(enum.Enum):
    A = 1

    def label(self):
        return "a"


class Tone(enum.StrEnum):
    DARK = "dark"
# --- proj/tasks.py
from celery import Celery
from django.db import models

from proj.enums import Channel, Plain, Priority, Tone

app = Celery("proj", broker="redis://", backend="redis://")


class Kind(models.TextChoices):
    A = "a"


@app.task(time_limit=60)
def notify(user_id, channel):
    return user_id, channel


def signup(user_id):
    notify.delay(user_id, Channel.EMAIL)  # a str mixin: encodes as "email"
    notify.delay(user_id, Priority.HIGH)
    notify.delay(user_id, Tone.DARK)
    notify.delay(user_id, Kind.A)
    notify.delay(user_id, Plain.A.value)
    notify.delay(user_id, Plain.A.name)
    notify.delay(user_id, Plain.label)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/celeryconfig.py
task_serializer = "msgpack"
accept_content = ["msgpack"]
# --- proj/tasks.py
import uuid
from datetime import datetime

from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")
app.config_from_object("proj.celeryconfig")


@app.task(time_limit=60)
def record(value):
    return value


@app.task(time_limit=60, serializer="json")
def record_json(value):
    return value


def stamp():
    record.delay(datetime.now().isoformat())
    record.delay(str(uuid.uuid4()))
    record.delay(bytearray(b"raw"))  # msgpack packs it as bytes
    record_json.delay(datetime.now())  # kombu's JSON encodes datetimes
    record_json.delay(uuid.uuid4())
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/money.py
from kombu.utils.json import register_type


class Money:
    def __init__(self, cents):
        self.cents = cents


register_type(Money, "money", lambda m: m.cents, Money)
# --- proj/geo.py
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __json__(self):  # the JSON encoder calls it
        return {"x": self.x, "y": self.y}
# --- proj/tasks.py
from celery import Celery

from proj.geo import Point
from proj.money import Money

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def charge(amount):
    return amount


def pay():
    charge.delay(Money(100))  # register_type() taught kombu's JSON to encode it
    charge.delay(Point(1, 2))  # __json__
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/jsonext.py
import pickle

from kombu import serialization

serialization.register("json", pickle.dumps, pickle.loads, content_type="application/json", content_encoding="binary")
# --- proj/tasks.py
from celery import Celery

app = Celery("proj", broker="redis://", backend="redis://")


@app.task(time_limit=60)
def tag(labels):
    return labels


def label():
    tag.delay({"a", "b"})  # the project's own "json" serializer (pickle) encodes sets
'''
    ),
)


RULE = Rule(
    code="CEL005",
    name="unserializable-task-argument",
    summary="A task argument the task's serializer (JSON by default, or msgpack) cannot encode.",
    what=(
        "Checks arguments to `.delay()`, `.apply_async(args=, kwargs=)`, `.s()`, `.si()` of known "
        "tasks whose serializer is JSON (the default) or msgpack. It flags, on evidence only: ORM "
        "instances (`Model.query.get()`, `Model.objects.get()`, `Model(...)`, `session.get(Model, id)`, "
        "`session.query(Model).first()`, `session.scalars(select(Model)).one()`, the items of an iterated "
        "`session.query(Model)` or `session.scalars(select(Model))`, a parameter annotated with a model), "
        "a SQLAlchemy `Session`, members of a plain `Enum` (a `str`/`int` mixin, `IntEnum` or `StrEnum` "
        "encodes), sets, lambdas, generators, functions, open files, `request`/`session`/`current_user`, "
        "and instances of plain project classes; with msgpack also datetimes, dates, times, UUIDs and "
        "Decimals, which kombu's JSON encodes. Silent for values it cannot follow, for other "
        "serializers, when the project registers its own serializer under that name "
        "(`kombu.serialization.register`), and for types given to `kombu.utils.json.register_type`. "
        "A namedtuple is not reported: it encodes, and arrives in the task as a list."
    ),
    why=(
        "kombu serializes the arguments in the caller before anything is published and raises "
        "`kombu.exceptions.EncodeError: Object of type User is not JSON serializable`. Even with "
        "pickle, an ORM object arrives detached and stale."
    ),
    fix="Pass identifiers and plain data, and load the object inside the task.",
    invalid=CEL005_INVALID,
    valid=CEL005_VALID,
    check=check,
)
