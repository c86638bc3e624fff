"""What the libcst and the `ast` extractions share: which calls matter, and the scope frames."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Dict, List, Set

from celerylint.facts.types import Binding, Value

BUILTIN_NAMES = frozenset(dir(builtins))
TASK_CALL_METHODS = frozenset({"delay", "apply_async", "s", "si", "signature"})
CONFIG_CALLS = frozenset({"update", "setdefault", "Celery"})  # calls whose keywords may be settings
CONTEXT_METHODS = frozenset({"app_context", "test_request_context", "request_context"})
REQUEST_CONTEXT_METHODS = frozenset({"test_request_context", "request_context"})
# Calls that import a module named by their first argument.
IMPORTING_CALLS = frozenset(
    {
        "importlib.import_module",
        "__import__",
        "werkzeug.utils.import_string",
        "werkzeug.import_string",
        "django.utils.module_loading.import_string",
        "kombu.utils.imports.symbol_by_name",
        "celery.utils.imports.symbol_by_name",
    }
)
DYNAMIC_IMPORTERS = frozenset(
    {"pkgutil.walk_packages", "pkgutil.iter_modules", "werkzeug.utils.find_modules", "werkzeug.find_modules"}
)

# Deeper expressions are not worth following, and following them risks the recursion limit.
MAX_VALUE_DEPTH = 40


def join(module: str, name: str) -> str:
    if not module or module.endswith("."):
        return module + name
    return module + "." + name


@dataclass
class Frame:
    kind: str  # "module" | "class" | "function"
    qualname: str
    bound: Set[str]
    imports: Dict[str, str]
    globals_declared: Set[str] = field(default_factory=set)
    contexts: List[Value] = field(default_factory=list)
    managers: List[Value] = field(default_factory=list)
    returns: List[Value] = field(default_factory=list)
    locals: List[Binding] = field(default_factory=list)
    attributes: List[Binding] = field(default_factory=list)
    methods: List[str] = field(default_factory=list)
    branches: int = 0  # enclosing if/loop/except blocks of this frame
