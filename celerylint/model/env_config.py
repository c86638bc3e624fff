"""Settings that read the environment, as each deployed process sees them.

A setting such as `broker_url = os.environ.get("REDIS_URL", "redis://localhost")` has one value
in the web process and another in the worker when their deployments set REDIS_URL differently.
The reads followed: `os.environ[...]`, `os.environ.get`, `os.getenv`, python-decouple's
`config(...)`, django-environ's `env(...)`/`env.str(...)`, through names bound to them and `+`.
Celery itself reads CELERY_BROKER_URL and CELERY_RESULT_BACKEND before its configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import FrozenSet, List, Optional, Set, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

from celerylint.facts.types import MODULE_SCOPE, BinOp, Call, Const, Ref, Sub, Value
from celerylint.model.app_config import ResolvedConfig, SettingValue
from celerylint.model.deploy import DeployFacts
from celerylint.model.graph import ProgramGraph
from celerylint.model.modules import ModuleInfo
from celerylint.model.process_env import EnvVar, ProcessEnv
from celerylint.model.resolve import AttrOf, Ctx, ExtObj, InstObj

# Read by Celery before its configuration (celery/app/utils.py Settings.broker_url, result_backend).
CELERY_READS = {"broker_url": "CELERY_BROKER_URL", "result_backend": "CELERY_RESULT_BACKEND"}
CELERY_DEFAULT_BROKER = "amqp://guest@localhost//"
GETTERS = frozenset({"os.environ.get", "os.getenv"})
DECOUPLE = frozenset({"decouple.config"})
DJANGO_ENVIRON = "environ.Env"
DJANGO_ENVIRON_GETTERS = frozenset({"str"})
# Calls that load a dotenv file into os.environ: a variable no deployment file sets may come from it.
DOTENV_LOADERS = frozenset({"dotenv.load_dotenv", "dotenv.main.load_dotenv", "environ.Env.read_env"})
MAX_HOPS = 8
NONE = "<None>"
# `$X`, `${X}` (shells, compose, systemd), `%(ENV_X)s` (supervisor), `$(X)` (make): filled in at run time.
TEMPLATE = re.compile(r"\$|%\(")
# scheme://user:password@host: inspect output and messages land in CI logs and bug reports.
URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+(?=@)")


# Transports' defaults, as kombu fills them in (kombu/connection.py, kombu/transport/*.py).
DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671, "redis": 6379, "rediss": 6379}
TRANSPORT_ALIASES = {"pyamqp": "amqp", "librabbitmq": "amqp"}


def url_identity(text: str) -> Tuple[object, ...]:
    """What a broker URL connects to, its defaults filled in; other text stands for itself."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return (text,)
    scheme = TRANSPORT_ALIASES.get(parts.scheme, parts.scheme)
    if scheme not in DEFAULT_PORTS or ";" in text or not parts.hostname:
        return (text,)
    path = unquote(parts.path[1:]) if parts.path else ""
    amqp = scheme.startswith("amqp")
    user = unquote(parts.username) if parts.username else ("guest" if amqp else None)
    password = unquote(parts.password) if parts.password else ("guest" if amqp else None)
    vhost = path or ("/" if amqp else "0")
    return (scheme, user, password, parts.hostname.lower(), port or DEFAULT_PORTS[scheme], vhost, tuple(sorted(parse_qsl(parts.query))))


def mask_password(text: str) -> str:
    return URL_PASSWORD.sub(lambda match: match.group("head") + "****", text)


@dataclass(frozen=True)
class Seen:
    """A value in one process: its text, exact or a template (`${X}`, an inherited variable)
    that equals only the same template; and the variables lines it came from."""

    text: str
    exact: bool
    sources: Tuple[EnvVar, ...] = ()
    via_code: bool = False  # the value came through a setting that reads the environment

    def differs(self, other: "Seen") -> bool:
        """Provably different: both exact, and not the same text nor the same broker written
        two ways (`amqp://guest:guest@rabbitmq:5672//` is `amqp://rabbitmq//`)."""
        return self.exact and other.exact and url_identity(self.text) != url_identity(other.text)


@dataclass(frozen=True)
class _Read:
    name: str
    default: Optional[Value]  # None: no default given
    missing: str  # when unset without a default: "none" (returns None) or "raises"
    decouple: bool = False


class EnvironmentReader:
    def __init__(self, graph: ProgramGraph, deploy: DeployFacts) -> None:
        self.graph = graph
        self.deploy = deploy

    # --- what the code does to the environment ----------------------------------------------

    @cached_property
    def _code_sets(self) -> FrozenSet[str]:
        """Variables the project's code sets itself ("*": any variable)."""
        names: Set[str] = set()
        for info in self.graph.index.modules():
            if info.is_test:
                continue
            for store in info.facts.stores:
                target = store.target
                if isinstance(target, Sub) and self._is_ext(info, store.scope, target.base, "os.environ"):
                    names.add(target.key.value if isinstance(target.key, Const) and isinstance(target.key.value, str) else "*")
        for info, call in self.graph.calls_named("setdefault", "putenv", "update", "load_dotenv", "read_env"):
            if info.is_test:
                continue
            func = self.graph.resolve(info, call.scope, call.value.func)
            path = func.path if isinstance(func, ExtObj) else ""
            if path in ("os.environ.setdefault", "os.putenv"):
                first = call.value.args[0] if call.value.args else None
                names.add(first.value if isinstance(first, Const) and isinstance(first.value, str) else "*")
            elif path == "os.environ.update":
                names.add("*")
            elif path in DOTENV_LOADERS or (isinstance(func, AttrOf) and func.path == "read_env"):
                override = call.value.kwarg("override")
                names.add("*" if override is not None and not (isinstance(override, Const) and override.value is False) else "<dotenv>")
        return frozenset(names)

    def _is_ext(self, info: ModuleInfo, scope: str, value: Value, path: str) -> bool:
        obj = self.graph.resolve(info, scope, value)
        return isinstance(obj, ExtObj) and obj.path == path

    # --- one variable in one process --------------------------------------------------------

    def variable(self, env: ProcessEnv, name: str) -> Optional[Tuple[Optional[Seen], bool]]:
        """(value, True) when the process sets the variable, (None, False) when it provably does
        not, (template, False) when it inherits it, None when that is not known."""
        if "*" in self._code_sets or name in self._code_sets:
            return None
        var = env.get(name)
        if var is not None:
            if var.value is None:
                return Seen(f"${{{name}}}", False, (var,)), True
            return Seen(var.value, not TEMPLATE.search(var.value), (var,)), True
        if env.inherits is not None:
            return Seen(f"<{name} from {env.inherits}>", False), False
        if name in self.deploy.ambient or "<dotenv>" in self._code_sets:
            return None
        return None, False

    # --- a value ----------------------------------------------------------------------------

    def evaluate(self, info: ModuleInfo, scope: str, value: Optional[Value], env: ProcessEnv, hops: int = 0) -> Optional[Seen]:
        """The value as the process sees it, or None when that is not known."""
        if value is None or hops > MAX_HOPS:
            return None
        if isinstance(value, Const):
            if isinstance(value.value, str):
                return Seen(value.value, True)
            return Seen(NONE, True) if value.value is None else None
        read = self._read(info, scope, value)
        if read is not None:
            return self._evaluate_read(info, scope, read, env, hops)
        if isinstance(value, BinOp) and value.op == "Add":
            left = self.evaluate(info, scope, value.left, env, hops + 1)
            right = self.evaluate(info, scope, value.right, env, hops + 1)
            if left is None or right is None or NONE in (left.text, right.text):
                return None
            return Seen(left.text + right.text, left.exact and right.exact, left.sources + right.sources, left.via_code or right.via_code)
        if isinstance(value, Ref):
            bound = self._binding(info, scope, value)
            if bound is not None:
                return self.evaluate(bound[0], bound[1], bound[2], env, hops + 1)
        return None

    def _evaluate_read(self, info: ModuleInfo, scope: str, read: _Read, env: ProcessEnv, hops: int) -> Optional[Seen]:
        found = self.variable(env, read.name)
        if found is None:
            return None
        seen, is_set = found
        if is_set and seen is not None:
            return Seen(seen.text, seen.exact, seen.sources, True)
        if read.decouple:
            return None  # decouple also reads .env and settings.ini files found at run time
        default = self.evaluate(info, scope, read.default, env, hops + 1) if read.default is not None else None
        if read.default is not None and default is None:
            return None
        if seen is not None:  # inherited: the same template equals only the same template
            return Seen(f"{seen.text} or {default.text if default else NONE}", False, (), True)
        if default is not None:
            return Seen(default.text, default.exact, default.sources, True)
        return Seen(NONE, True, (), True) if read.missing == "none" else None

    def _read(self, info: ModuleInfo, scope: str, value: Value) -> Optional[_Read]:
        if isinstance(value, Sub):
            if isinstance(value.key, Const) and isinstance(value.key.value, str) and self._is_ext(info, scope, value.base, "os.environ"):
                return _Read(value.key.value, None, "raises")
            return None
        if not isinstance(value, Call) or not value.args or value.has_star:
            return None
        name = value.args[0]
        if not (isinstance(name, Const) and isinstance(name.value, str)):
            return None
        func = self.graph.resolve(info, scope, value.func)
        if isinstance(func, ExtObj) and func.path in GETTERS:
            default = value.args[1] if len(value.args) > 1 else value.kwarg("default")
            return _Read(name.value, default, "none")
        if isinstance(func, ExtObj) and func.path in DECOUPLE:
            if value.kwarg("cast") is not None or len(value.args) > 1:
                return None
            return _Read(name.value, value.kwarg("default"), "raises", decouple=True)
        environ_call = isinstance(func, InstObj) and func.cls == DJANGO_ENVIRON
        environ_str = isinstance(func, AttrOf) and func.path in DJANGO_ENVIRON_GETTERS and isinstance(func.base, InstObj) and func.base.cls == DJANGO_ENVIRON
        if (environ_call or environ_str) and len(value.args) == 1:
            return _Read(name.value, value.kwarg("default"), "raises")
        return None

    def _binding(self, info: ModuleInfo, scope: str, ref: Ref) -> Optional[Tuple[ModuleInfo, str, Value]]:
        """The one value a name is bound to, where it is written (None: several, or none)."""
        resolver = self.graph.resolver
        if ref.scope == "local" and "." not in ref.path:
            function = resolver.functions.get((info.name, scope))
            values = [b.value for b in function.locals if b.name == ref.path] if function is not None else []
            return (info, scope, values[0]) if len(values) == 1 else None
        if ref.scope == "global" and "." not in ref.path:
            return _only_global(info, ref.path)
        if ref.scope == "import":
            dotted = resolver.canonical(Ctx(info, scope), ref)
            module, rest = self.graph.index.longest_module_prefix(dotted, info)
            if module is not None and len(rest) == 1:
                return _only_global(module, rest[0])
        return None

    def reads(self, info: ModuleInfo, scope: str, value: Optional[Value], hops: int = 0) -> List[str]:
        """The variables a value reads."""
        if value is None or hops > MAX_HOPS:
            return []
        read = self._read(info, scope, value)
        if read is not None:
            return [read.name] + self.reads(info, scope, read.default, hops + 1)
        if isinstance(value, BinOp):
            return self.reads(info, scope, value.left, hops + 1) + self.reads(info, scope, value.right, hops + 1)
        if isinstance(value, Ref):
            bound = self._binding(info, scope, value)
            if bound is not None:
                return self.reads(bound[0], bound[1], bound[2], hops + 1)
        return []

    # --- a setting --------------------------------------------------------------------------

    def setting_reads(self, setting: SettingValue) -> List[str]:
        info = self._module(setting)
        return self.reads(info, setting.ctx[1], setting.value) if info is not None and setting.ctx is not None else []

    def setting_in(self, config: ResolvedConfig, name: str, env: ProcessEnv) -> Optional[Seen]:
        """The setting as a process with this environment and this view of the configuration
        sees it (Celery's own environment variable first); None when that is not known."""
        own = CELERY_READS.get(name)
        if own is not None:
            found = self.variable(env, own)
            if found is None:
                return None
            seen, is_set = found
            if seen is not None and (is_set or not seen.exact):
                if seen.text or not seen.exact:
                    return seen  # Celery takes it unless it is empty
        state, setting = config.lookup(name)
        if state == "unknown":
            return None
        if state == "not set" or setting is None:
            return Seen(CELERY_DEFAULT_BROKER, True) if name == "broker_url" else None
        info = self._module(setting)
        if info is None or setting.ctx is None:
            return None
        seen_value = self.evaluate(info, setting.ctx[1], setting.value, env)
        if seen_value is not None and seen_value.text == NONE and name == "broker_url":
            return Seen(CELERY_DEFAULT_BROKER, True, seen_value.sources, seen_value.via_code)
        return seen_value

    def broker_variables(self, config: ResolvedConfig) -> List[str]:
        """The variables the broker comes from: Celery's own, then those its setting reads."""
        state, setting = config.lookup("broker_url")
        read = self.setting_reads(setting) if state == "set" and setting is not None else []
        return list(dict.fromkeys([CELERY_READS["broker_url"], *read]))

    def _module(self, setting: SettingValue) -> Optional[ModuleInfo]:
        return self.graph.index.by_name.get(setting.ctx[0]) if setting.ctx is not None else None


def _only_global(info: ModuleInfo, name: str) -> Optional[Tuple[ModuleInfo, str, Value]]:
    bindings = [binding for binding in info.facts.globals if binding.name == name]
    return (info, MODULE_SCOPE, bindings[0].value) if len(bindings) == 1 else None
