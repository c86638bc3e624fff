"""Configuration reached the ways real projects reach it (issue 10): a class chosen at run time
from a dict of config classes, instance attributes set in `__init__`, and settings modules that
star-import a module the repository does not hold."""

from __future__ import annotations

import ast
from typing import Dict

import libcst
import pytest

from celerylint.config import Settings
from celerylint.engine import analyse
from celerylint.facts.extract import extract_facts
from celerylint.facts.scan import scan_imports
from celerylint.inspect_cmd import render
from celerylint.model.project import Project

DJANGO_CELERY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
    "app = Celery('mysite')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n"
)


def _project(project, files: Dict[str, str]) -> Project:  # type: ignore[no-untyped-def]
    return analyse([project(files)], Settings(use_cache=False), jobs=1).project


def _django(project, settings: str, **extra: str) -> Project:  # type: ignore[no-untyped-def]
    files = {"mysite/__init__.py": "", "mysite/settings.py": settings, "mysite/celery.py": DJANGO_CELERY}
    files.update({path.replace("__", "/") + ".py": text for path, text in extra.items()})
    return _project(project, files)


# --- star imports of modules absent from the repository ------------------------------------

LOCAL_SETTINGS = (
    "CELERY_BROKER_URL = 'redis://'\n"
    "try:\n    from .local_settings import *\nexcept ImportError:\n    pass\n"
    "CELERY_TASK_TIME_LIMIT = 60\n"
)


def test_optional_absent_module_leaves_unset_settings_unknown(project) -> None:  # type: ignore[no-untyped-def]
    model = _django(project, LOCAL_SETTINGS)
    (app,) = model.apps
    config = model.config(app)
    assert config.lookup("result_backend") == ("unknown", None)
    why = [opacity.why for opacity in config.opaque]
    assert why == ["may be set by optional module mysite.local_settings, absent from the repository"]
    assert str(config.opaque[0].origin) == "mysite/settings.py:3"


def test_assignment_after_the_star_import_wins(project) -> None:  # type: ignore[no-untyped-def]
    model = _django(project, LOCAL_SETTINGS)
    (app,) = model.apps
    state, setting = model.config(app).lookup("task_time_limit")
    assert state == "set" and setting is not None
    assert setting.value is not None and setting.note is None


def test_assignment_before_the_star_import_is_set_with_its_value_unknown(project) -> None:  # type: ignore[no-untyped-def]
    model = _django(project, LOCAL_SETTINGS)
    (app,) = model.apps
    state, setting = model.config(app).lookup("broker_url")
    assert state == "set" and setting is not None
    assert setting.value is None
    assert setting.note == (
        "may be overridden by the star import at mysite/settings.py:3 of optional module "
        "mysite.local_settings, absent from the repository"
    )
    text = render(model)
    assert "broker_url: <set, value not known>  (from mysite/settings.py:1, as CELERY_BROKER_URL; may be overridden" in text
    assert "result_backend: unknown (may be set by optional module mysite.local_settings, absent from the repository" in text


def test_required_absent_module_is_treated_alike_and_says_so(project) -> None:  # type: ignore[no-untyped-def]
    model = _django(project, "from .secrets import *\nCELERY_TASK_TIME_LIMIT = 60\n")
    (app,) = model.apps
    config = model.config(app)
    assert config.lookup("result_backend") == ("unknown", None)
    assert config.lookup("task_time_limit")[0] == "set"
    assert [o.why for o in config.opaque] == [
        "may be set by module mysite.secrets, absent from the repository (a required import: it is created where this runs)"
    ]


def test_present_module_is_followed(project) -> None:  # type: ignore[no-untyped-def]
    model = _django(
        project,
        "try:\n    from .local_settings import *\nexcept ImportError:\n    pass\n",
        mysite__local_settings="CELERY_RESULT_BACKEND = 'redis://'\n",
    )
    (app,) = model.apps
    config = model.config(app)
    assert config.opaque == []
    assert config.lookup("result_backend")[0] == "set"
    assert config.lookup("task_time_limit") == ("not set", None)


def test_star_import_of_an_installed_settings_module_may_set_anything(project) -> None:  # type: ignore[no-untyped-def]
    model = _django(project, "from nautobot.core.settings import *\n")
    (app,) = model.apps
    assert model.config(app).lookup("result_backend") == ("unknown", None)


@pytest.mark.parametrize("module", ["os.path", "celery.schedules", "kombu"])
def test_star_import_of_a_package_without_settings_changes_nothing(project, module: str) -> None:  # type: ignore[no-untyped-def]
    model = _django(project, f"from {module} import *\n")
    (app,) = model.apps
    assert model.config(app).lookup("result_backend") == ("not set", None)


OPTIONAL_IMPORTS = """
from .base import *
try:
    from .local import *
except ImportError:
    pass
else:
    import after_success
try:
    import optional_one
except (KeyError, ModuleNotFoundError):
    import in_handler
from contextlib import suppress
with suppress(ImportError):
    from .override import *
try:
    import guarded_by_finally
finally:
    pass
try:
    import bare
except:
    pass
"""


@pytest.mark.parametrize("how", ["libcst", "ast"])
def test_imports_whose_failure_is_caught_are_optional(how: str) -> None:
    if how == "libcst":
        facts = extract_facts(libcst.parse_module(OPTIONAL_IMPORTS))
    else:
        facts = scan_imports(ast.parse(OPTIONAL_IMPORTS))
    optional = {fact.module: fact.optional for fact in facts.imports}
    assert optional == {
        ".base": False, ".local": True, "after_success": False, "optional_one": True, "in_handler": False,
        "contextlib": False, ".override": True, "guarded_by_finally": False, "bare": True,
    }


# --- a class chosen at run time ---------------------------------------------------------------

CONFIG_CLASSES = (
    "class Config:\n"
    "    CELERY_CONFIG = {'result_backend': 'redis://', 'task_time_limit': 30}\n"
    "class Dev(Config):\n"
    "    pass\n"
    "class Prod(Config):\n"
    "    CELERY_CONFIG = {'result_backend': 'redis://', 'task_time_limit': 60, 'task_soft_time_limit': 50}\n"
    "config = {'dev': Dev, 'prod': Prod, 'default': Dev}\n"
)


@pytest.mark.parametrize(
    "apply",
    [
        "app.conf.update(config[name].CELERY_CONFIG)\n",
        "app.conf.update(config.get(name).CELERY_CONFIG)\n",
        "chosen = config[name]\napp.conf.update(chosen.CELERY_CONFIG)\n",  # through a name
    ],
)
def test_attribute_of_a_class_chosen_at_run_time(project, apply: str) -> None:  # type: ignore[no-untyped-def]
    model = _project(
        project,
        {
            "config.py": CONFIG_CLASSES,
            "app.py": "import os\nfrom celery import Celery\nfrom config import config\n"
            "name = os.environ['CONFIG']\napp = Celery('p')\n" + apply,
        },
    )
    (app,) = model.apps
    config = model.config(app)
    assert config.lookup("result_backend")[0] == "set"  # all agree
    state, limit = config.lookup("task_time_limit")  # all set it, to different values
    assert state == "set" and limit is not None and limit.value is None
    assert limit.note is not None and "set different values" in limit.note
    assert config.lookup("task_soft_time_limit") == ("unknown", None)  # only Prod sets it
    assert config.lookup("task_serializer") == ("not set", None)


def test_attribute_missing_from_one_choice_is_unknown(project) -> None:  # type: ignore[no-untyped-def]
    model = _project(
        project,
        {
            "config.py": "class A:\n    CELERY = {'task_time_limit': 1}\nclass B:\n    pass\nconfig = {'a': A, 'b': B}\n",
            "app.py": "import os\nfrom celery import Celery\nfrom config import config\n"
            "app = Celery('p')\napp.conf.update(config[os.environ['C']].CELERY)\n",
        },
    )
    (app,) = model.apps
    assert model.config(app).lookup("task_time_limit") == ("unknown", None)


# --- instances: attributes set in __init__ ------------------------------------------------------


@pytest.mark.parametrize(
    "writes",
    [
        "for k, v in values.items():\n            setattr(self, k, v)\n",
        "self.__dict__.update(values)\n",
        "vars(self).update(values)\n",
    ],
)
def test_attributes_set_at_run_time_in_init_are_unknown(project, writes: str) -> None:  # type: ignore[no-untyped-def]
    model = _project(
        project,
        {
            "config.py": "class Config:\n    broker_url = 'redis://'\n"
            "    def __init__(self, values):\n        print(self)\n        " + writes,
            "app.py": "from celery import Celery\nfrom config import Config\napp = Celery('p')\napp.config_from_object(Config({}))\n",
        },
    )
    (app,) = model.apps
    config = model.config(app)
    assert config.lookup("broker_url")[0] == "set"
    assert config.lookup("result_backend") == ("unknown", None)


def test_instance_attributes_win_over_class_attributes(project) -> None:  # type: ignore[no-untyped-def]
    model = _project(
        project,
        {
            "config.py": "class Config:\n    task_time_limit = 10\n    def __init__(self):\n        self.task_time_limit = 20\n",
            "app.py": "from celery import Celery\nfrom config import Config\napp = Celery('p')\napp.config_from_object(Config())\n",
        },
    )
    (app,) = model.apps
    state, setting = model.config(app).lookup("task_time_limit")
    assert state == "set" and setting is not None and str(setting.origin) == "config.py:4"


def test_star_import_of_a_sibling_by_its_bare_name_is_followed(project) -> None:  # type: ignore[no-untyped-def]
    """`from settings_ldap import *` in mysite/settings.py (Python 2's implicit relative import)."""
    model = _django(
        project,
        "INSTALLED_APPS = ['mysite']\nif LDAP:\n    from settings_ldap import *\n",
        mysite__settings_ldap="AUTH_LDAP_SERVER_URI = 'ldap://'\n",
    )
    (app,) = model.apps
    config = model.config(app)
    assert config.opaque == []
    assert config.lookup("result_backend") == ("not set", None)
    assert model.objects.module_mapping("mysite.settings").get("INSTALLED_APPS").value is not None  # type: ignore[union-attr]
