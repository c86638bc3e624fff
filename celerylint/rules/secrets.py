"""CEL016: a literal password in a broker or result backend URL."""

from __future__ import annotations

import ipaddress
import re
from typing import Dict, Iterator, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

from celerylint.facts.types import MODULE_SCOPE, Call, Const, Loc, Ref, Sub, Value
from celerylint.model.app_config import Origin
from celerylint.model.modules import ModuleInfo
from celerylint.model.project import Project
from celerylint.model.resolve import ExtObj, ValObj
from celerylint.model.setting_names import canonical_setting
from celerylint.rules.base import Report, Rule, case, report

URL_SETTINGS = {
    "broker_url": "broker",
    "broker_read_url": "broker",
    "broker_write_url": "broker",
    "result_backend": "result backend",
}
ENV_GETTERS = frozenset({"os.environ.get", "os.getenv", "os.environ.setdefault"})
# Words that stand for a password in examples and templates: no secret is written.
PLACEHOLDERS = frozenset(
    {
        "password", "passwd", "pass", "pwd", "secret", "changeme", "changeit", "example", "redacted",
        "yourpassword", "mypassword", "userpassword", "dbpassword", "brokerpassword", "redispassword",
        "rabbitmqpassword", "rabbitpassword", "passw0rd", "p4ssw0rd", "test", "dummy", "fake", "none", "null",
    }
)
PLACEHOLDER_MARKS = re.compile(r"[${}<>%*]|^\.+$|^x+$", re.IGNORECASE)
# Hosts reachable only from the machine or a private network of the same deployment: a
# password for them guards a development service, not a production one (RFC 2606 names are
# documentation).
LOCAL_NAMES = frozenset({"localhost", "host.docker.internal", "host-gateway"})
DOC_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".local", "example.com", "example.org", "example.net")
MAX_BINDING_HOPS = 3


def url_secret(url: str) -> Optional[str]:
    """The host of the first URL (of a `;`-separated list) that holds a real-looking password
    for a host outside the local machine and its private names, or None."""
    for part in url.split(";"):
        host = _secret_host(part.strip())
        if host is not None:
            return host
    return None


def _secret_host(url: str) -> Optional[str]:
    if "://" not in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return None
    user, colon, password = userinfo.partition(":")
    password = unquote(password)
    if not colon or _placeholder(password) or (user, password) == ("guest", "guest"):
        return None
    host = _host(hostport)
    if host is None:
        # No host: kombu's default, localhost, except for SQS, where the user and password
        # are an AWS access key and its secret.
        return "AWS SQS" if parts.scheme.lower() == "sqs" else None
    return None if _local(host) else host


def _placeholder(password: str) -> bool:
    if not password or PLACEHOLDER_MARKS.search(password):
        return True
    word = re.sub(r"[^a-z0-9]", "", password.lower())
    return not word or word in PLACEHOLDERS or len(set(word)) == 1


def _host(hostport: str) -> Optional[str]:
    if hostport.startswith("["):
        return hostport[1:].partition("]")[0] or None
    host = hostport.rpartition(":")[0] if hostport.count(":") == 1 else hostport
    return host.lower() or None


def _local(host: str) -> bool:
    """Loopback, unspecified, or a single-label name (a docker-compose or Kubernetes service,
    an /etc/hosts entry): reachable only from inside the deployment that defines it."""
    if host in LOCAL_NAMES or host.endswith(DOC_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host
    return address.is_loopback or address.is_unspecified


def _literal_urls(project: Project, info: ModuleInfo, scope: str, value: Value, hops: int = 0) -> List[str]:
    """The literal strings a setting's value may be: the literal itself, a constant it names,
    the default of an environment lookup (`os.environ.get("X", "...")`, `env("X", default=...)`)."""
    if isinstance(value, Const):
        return [value.value] if isinstance(value.value, str) else []
    if isinstance(value, Call):
        default = value.kwarg("default")
        if default is None and len(value.args) >= 2:
            func = project.resolve(info, scope, value.func)
            if isinstance(func, ExtObj) and func.path in ENV_GETTERS:
                default = value.args[1]
        return _literal_urls(project, info, scope, default, hops + 1) if default is not None and hops < MAX_BINDING_HOPS else []
    if isinstance(value, Ref) and hops < MAX_BINDING_HOPS:
        obj = project.resolve(info, scope, value)
        if isinstance(obj, ValObj):
            holder = project.index.by_name.get(obj.module)
            if holder is not None:
                return _literal_urls(project, holder, obj.scope, obj.value, hops + 1)
    return []


def _url_setting(name: str) -> Optional[str]:
    setting = canonical_setting(name, "CELERY")
    return setting if setting in URL_SETTINGS else None


def _named_settings(project: Project) -> Iterator[Tuple[ModuleInfo, str, Value, str, Origin]]:
    """Values written under the name of a URL setting in any spelling Celery, Django
    (`CELERY_BROKER_URL`) or Flask configs use, wherever they are written: module constants,
    class attributes, `config["CELERY_BROKER_URL"] = ...`, `settings.BROKER_URL = ...`."""
    for info in project.index.modules():
        if info.is_test:
            continue
        bindings = [(MODULE_SCOPE, binding) for binding in info.facts.globals]
        bindings += [(cls.scope, binding) for cls in info.facts.classes for binding in cls.attributes]
        for scope, binding in bindings:
            setting = _url_setting(binding.name)
            if setting is not None:
                yield info, scope, binding.value, setting, project.origin(info, binding.loc)
        for store in info.facts.stores:
            target = store.target
            key = target.key if isinstance(target, Sub) else None
            name = key.value if isinstance(key, Const) else target.last if isinstance(target, Ref) else None
            setting = _url_setting(name) if isinstance(name, str) else None
            if setting is not None:
                yield info, store.scope, store.value, setting, project.origin(info, store.loc)


def _app_settings(project: Project) -> Iterator[Tuple[ModuleInfo, str, Value, str, Origin]]:
    """The URL settings of every app, as the model resolves them (constructor keywords,
    `conf.update`, `conf.x = ...`, config objects)."""
    for app in project.apps:
        config = project.config(app)
        for setting in URL_SETTINGS:
            state, found = config.lookup(setting)
            if state != "set" or found is None or found.value is None or found.ctx is None:
                continue
            info = project.index.by_name.get(found.ctx[0])
            if info is not None and not info.is_test:
                yield info, found.ctx[1], found.value, setting, found.origin


def check(project: Project) -> Iterator[Report]:
    seen: Dict[Tuple[str, int], None] = {}
    candidates = list(_app_settings(project)) + list(_named_settings(project))
    for info, scope, value, setting, where in candidates:
        if (where.rel, where.line) in seen:
            continue
        for url in _literal_urls(project, info, scope, value):
            host = url_secret(url)
            if host is None:
                continue
            seen[(where.rel, where.line)] = None
            yield report(
                where.rel, Loc(where.line, where.col, where.line, where.col),
                f"{setting} holds a literal password for {host!r}: whoever reads the source can log in to "
                f"your {URL_SETTINGS[setting]}",
                hint="Read the URL from the environment.",
            )
            break


CEL016_INVALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
from celery import Celery

app = Celery("proj", broker="amqp://shop:Xk29fjw02@mq.shop-internal.net//", task_time_limit=60)  # expect: CEL016
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/settings.py
import os

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://:s3cr3t-Token@redis.prod.shop.net:6379/0")  # expect: CEL016
CELERY_RESULT_BACKEND = "db+postgresql://celery:hunter2@10.0.3.7/results"  # expect: CEL016
# --- proj/app.py
from flask import Flask

app = Flask(__name__)
app.config["CELERY_BROKER_URL"] = "amqp://shop:Xk29fjw02@mq.shop.net//"  # expect: CEL016
'''
    ),
)
CEL016_VALID = (
    case(
        r'''
# --- proj/__init__.py
# --- proj/celery_app.py
import os

from celery import Celery

app = Celery("proj", broker=os.environ["CELERY_BROKER_URL"], task_time_limit=60)
'''
    ),
    case(
        r'''
# --- proj/__init__.py
# --- proj/settings.py
import os

# Development defaults: RabbitMQ's guest account, a local Redis, a docker-compose service.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@rabbitmq.example.com:5672//")
BROKER_READ_URL = "redis://:devpass@localhost:6379/0"
CELERY_RESULT_BACKEND = "redis://:devpass@redis:6379/1"
RESULT_BACKEND_TEMPLATE = "redis://:{password}@cache.shop.net:6379/1"
CELERY_BROKER_WRITE_URL = "amqp://user:<password>@mq.shop.net//"
'''
    ),
)


RULE = Rule(
    code="CEL016",
    name="secret-in-url",
    summary="A broker or result backend URL in the source holds a literal password.",
    what=(
        "Reports a broker or result backend URL (`broker=`, `backend=`, `broker_url`, `result_backend`, "
        "`CELERY_BROKER_URL`, `BROKER_URL`, `CELERY_RESULT_BACKEND`... in an app's configuration, a "
        "settings module or a config class), or the default of `os.environ.get(...)`/`env(..., "
        "default=...)` for one, that holds a password for a host other than the local machine (for SQS, "
        "the AWS secret key). Silent "
        "for RabbitMQ's `guest:guest`, loopback addresses, single-label host names (docker-compose "
        "and Kubernetes services, reachable only inside their deployment), documentation domains "
        "(`example.com`, `.test`), and placeholders (`password`, `changeme`, `<password>`, `${...}`)."
    ),
    why=(
        "Whoever can read the repository (every clone, fork, CI log and backup) can log in to the "
        "broker and send any task to your workers (with pickle accepted, run any code), or read and "
        "forge results in the backend. Rotating the password means changing the code."
    ),
    fix="Read the URL (or at least its password) from the environment, with no secret default.",
    invalid=CEL016_INVALID,
    valid=CEL016_VALID,
    check=check,
)
