"""Tests that kill mutants of celerylint/model and celerylint/rules that the rest of the suite
let survive (mutation run on 3a062fb): each builds a small project where the mutated decision
changes the findings, or makes the run crash, and states the right answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Set, Tuple

import pytest

from celerylint.config import Settings
from celerylint.engine import run
from tests.conftest import write_project

CELERY_APP = 'from celery import Celery\n\napp = Celery("proj", broker="redis://", backend="redis://")\napp.conf.task_time_limit = 60\n'


def _findings(root: Path, **settings: Any) -> Set[Tuple[str, int, str]]:
    """(path relative to the project root, line, code) of every finding in the project."""
    _, findings = run([root], Settings(use_cache=False, **settings), jobs=1)
    return {(Path(f.path).as_posix(), f.line, f.code) for f in findings}


# --- the worker's import closure ---------------------------------------------------------------


def test_closure_runs_another_round_for_imports_set_by_an_included_module(tmp_path: Path) -> None:
    """include= brings in proj.extra, which sets `imports`: only a second round of worker-start
    imports reads it (ClosureBuilder.build stops only when a round adds nothing)."""
    root = write_project(
        tmp_path,
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": CELERY_APP.replace('backend="redis://")', 'backend="redis://", include=["proj.extra"])'),
            "proj/extra.py": 'from proj.celery_app import app\n\napp.conf.imports = ["proj.late"]\n',
            "proj/late.py": "from proj.celery_app import app\n\n\n@app.task\ndef job():\n    pass\n",
        },
    )
    assert _findings(root) == set()


DJANGO_CELERY = (
    "import os\n\nfrom celery import Celery\nfrom django.conf import settings\n\n"
    'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")\n'
    'app = Celery("mysite")\n'
    'app.config_from_object("django.conf:settings", namespace="CELERY")\n'
    "app.autodiscover_tasks(lambda: settings.INSTALLED_APPS)\n"
)


def test_autodiscover_of_settings_installed_apps_is_followed(tmp_path: Path) -> None:
    """`autodiscover_tasks(lambda: settings.INSTALLED_APPS)`, the Django pattern: the listed
    app's tasks are registered and an unlisted one's are reported, not left unknown."""
    root = write_project(
        tmp_path,
        {
            "Procfile": "worker: celery -A mysite worker\n",
            "mysite/__init__.py": "",
            "mysite/settings.py": (
                'INSTALLED_APPS = ["polls"]\nCELERY_RESULT_BACKEND = "redis://"\nCELERY_TASK_TIME_LIMIT = 60\n'
            ),
            "mysite/celery.py": DJANGO_CELERY,
            "polls/__init__.py": "",
            "polls/tasks.py": "from celery import shared_task\n\n\n@shared_task\ndef listed():\n    pass\n",
            "orphan/__init__.py": "",
            "orphan/tasks.py": "from mysite.celery import app\n\n\n@app.task\ndef unlisted():\n    pass\n",
        },
    )
    assert _findings(root) == {("orphan/tasks.py", 4, "CEL002")}


# --- configuration -----------------------------------------------------------------------------


def test_a_key_set_by_only_some_run_time_choices_is_unknown(tmp_path: Path) -> None:
    """`config[name]` picks one of several dicts at run time: a key only some of them set may
    or may not be set, so CEL001 stays silent; a key none of them sets is not set."""
    files = {
        "proj/__init__.py": "",
        "proj/celery_app.py": (
            "import os\n\nfrom celery import Celery\n\n"
            'CONFIGS = {\n    "dev": {"task_time_limit": 5},\n    "prod": {"task_time_limit": 5, "result_backend": "redis://"},\n}\n'
            'app = Celery("proj")\n'
            'app.config_from_object(CONFIGS[os.environ["ENV"]])\n\n\n'
            "@app.task\ndef add(x, y):\n    return x + y\n\n\n"
            "def view():\n    return add.delay(1, 2).get()\n"
        ),
    }
    assert _findings(write_project(tmp_path / "some", dict(files))) == set()
    files["proj/celery_app.py"] = files["proj/celery_app.py"].replace(', "result_backend": "redis://"', "")
    assert _findings(write_project(tmp_path / "none", dict(files))) == {("proj/celery_app.py", 9, "CEL001")}


FLASK_FACTORY = (
    "from celery import Celery\nfrom flask import Flask\n\n\n"
    "def create_app():\n"
    "    flask_app = Flask(__name__)\n"
    "{config}"
    "    celery = Celery(flask_app.import_name)\n"
    "    celery.config_from_object({source}, namespace='CELERY')\n"
    "    return celery\n\n\n"
    "celery = create_app()\n\n\n"
    "@celery.task(time_limit=60)\ndef add(x, y):\n    return x + y\n\n\n"
    "def view():\n    return add.delay(1, 2).get()\n"
)


@pytest.mark.parametrize("reader", ["from_envvar('PROJ_SETTINGS')", "from_pyfile('local.cfg')"], ids=["from_envvar", "from_pyfile"])
def test_flask_config_read_from_a_file_makes_the_celery_config_unknown(tmp_path: Path, reader: str) -> None:
    """Flask's config.from_envvar()/from_pyfile() read a file celerylint does not: it may set the backend."""
    plain = FLASK_FACTORY.format(config="    flask_app.config['CELERY_BROKER_URL'] = 'redis://'\n", source="flask_app.config")
    assert _findings(write_project(tmp_path / "plain", {"proj/__init__.py": plain})) == {("proj/__init__.py", 8, "CEL001")}
    from_file = plain.replace("    celery = Celery(", f"    flask_app.config.{reader}\n    celery = Celery(")
    assert _findings(write_project(tmp_path / "file", {"proj/__init__.py": from_file})) == set()


def test_config_get_of_a_mapping_item_is_followed(tmp_path: Path) -> None:
    """`config_from_object(CONFIGS.get("prod"))` is the item's mapping, as `CONFIGS["prod"]` is."""
    source = (
        "from celery import Celery\n\n"
        'CONFIGS = {"prod": {"task_time_limit": 5}}\n'
        'app = Celery("proj")\n'
        'app.config_from_object(CONFIGS.get("prod"))\n\n\n'
        "@app.task\ndef add(x, y):\n    return x + y\n\n\n"
        "def view():\n    return add.delay(1, 2).get()\n"
    )
    assert _findings(write_project(tmp_path, {"proj/__init__.py": "", "proj/celery_app.py": source})) == {
        ("proj/celery_app.py", 4, "CEL001")
    }


def test_a_config_item_written_on_a_call_result_is_no_crash(tmp_path: Path) -> None:
    """`make_app().config["X"] = ...`: the store's target is not a name; it is skipped."""
    source = CELERY_APP + "\n\ndef make_app():\n    return app\n\n\nmake_app().config['CELERY_X'] = 1\n"
    assert _findings(write_project(tmp_path, {"proj/__init__.py": "", "proj/celery_app.py": source})) == set()


def _settings_project(settings: str) -> Dict[str, str]:
    return {
        "mysite/__init__.py": "",
        "mysite/settings.py": settings,
        "mysite/celery.py": (
            "import os\n\nfrom celery import Celery\n\n"
            'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")\n'
            'app = Celery("mysite")\n'
            'app.config_from_object("django.conf:settings", namespace="CELERY")\n\n\n'
            "@app.task(time_limit=60)\ndef add(x, y):\n    return x + y\n\n\n"
            "def view():\n    return add.delay(1, 2).get()\n"
        ),
    }


@pytest.mark.parametrize(
    "settings",
    [
        # imported at module level from a file not in the project: set, to a value not known
        "from mysite.secrets import CELERY_RESULT_BACKEND\n",
        # exec() at module level writes globals celerylint cannot see
        'CELERY_TASK_TIME_LIMIT = 60\nexec(open("local_settings.py").read())\n',
    ],
)
def test_settings_a_module_may_set_out_of_sight_silence_cel001(tmp_path: Path, settings: str) -> None:
    assert _findings(write_project(tmp_path / "plain", _settings_project("DEBUG = False\n"))) == {("mysite/celery.py", 6, "CEL001")}
    assert _findings(write_project(tmp_path / "hidden", _settings_project(settings))) == set()


def test_add_defaults_makes_the_config_unknown(tmp_path: Path) -> None:
    source = CELERY_APP.replace('broker="redis://", backend="redis://"', 'broker="redis://"') + (
        "\n\n@app.task\ndef add(x, y):\n    return x + y\n\n\ndef view():\n    return add.delay(1, 2).get()\n"
    )
    files = {"proj/__init__.py": "", "proj/celery_app.py": source}
    assert _findings(write_project(tmp_path / "plain", dict(files))) == {("proj/celery_app.py", 3, "CEL001")}
    files["proj/celery_app.py"] = source.replace("app.conf.task_time_limit", "app.add_defaults(lambda: {})\napp.conf.task_time_limit")
    assert _findings(write_project(tmp_path / "defaults", dict(files))) == set()


def test_a_config_class_named_by_string_applies_where_the_call_runs(tmp_path: Path) -> None:
    """`config_from_object("proj.settings:Config")`: the class's keys apply at the call, which
    the worker runs, even though no import statement brings in proj.settings."""
    root = write_project(
        tmp_path,
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/settings.py": 'class Config:\n    result_backend = "redis://"\n    task_time_limit = 60\n',
            "proj/celery_app.py": (
                'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.settings:Config")\n\n\n'
                "@app.task\ndef add(x, y):\n    return x + y\n\n\ndef view():\n    return add.delay(1, 2).get()\n"
            ),
        },
    )
    assert _findings(root) == set()


def test_results_read_in_a_test_module_beside_the_code_need_no_backend(tmp_path: Path) -> None:
    """test_*.py is test code wherever it lives: tasks run eagerly there."""
    files = {
        "proj/__init__.py": "",
        "proj/celery_app.py": CELERY_APP.replace(', backend="redis://"', "") + "\n\n@app.task\ndef add(x, y):\n    return x + y\n",
        "proj/test_add.py": "from proj.celery_app import add\n\n\ndef test_add():\n    assert add.delay(1, 2).get() == 3\n",
    }
    assert _findings(write_project(tmp_path / "tests", dict(files))) == set()
    files["proj/use_add.py"] = files.pop("proj/test_add.py")
    assert _findings(write_project(tmp_path / "code", dict(files))) == {("proj/celery_app.py", 3, "CEL001")}


def test_calls_of_computed_callables_are_no_crash(tmp_path: Path) -> None:
    """`HANDLERS["a"]()` and `make()()`: calls whose callee is neither a name nor an attribute."""
    source = CELERY_APP + (
        '\nHANDLERS = {"a": print}\n\n\ndef make():\n    return print\n\n\n'
        '@app.task\ndef job():\n    HANDLERS["a"]()\n    make()()\n'
    )
    assert _findings(write_project(tmp_path, {"proj/__init__.py": "", "proj/celery_app.py": source})) == set()


def test_a_task_decorator_method_of_a_celery_subclass_makes_tasks(tmp_path: Path) -> None:
    """A Celery subclass method that wraps `self.task(...)` (Indico's periodic_task) makes a
    task; one that does not call self.task is no task decorator."""
    source = (
        "from celery import Celery\n\n\n"
        "class MyCelery(Celery):\n"
        "    def periodic_task(self, *args, **kwargs):\n"
        "        return self.task(*args, **kwargs)\n\n"
        "    def traced(self, fn):\n"
        "        print(fn)\n"
        "        return fn\n\n\n"
        'app = MyCelery("proj", broker="redis://", backend="redis://")\n\n\n'
        "@app.periodic_task\ndef tick():\n    pass\n\n\n"
        "@app.traced\ndef helper():\n    pass\n"
    )
    root = write_project(tmp_path, {"proj/__init__.py": "", "proj/celery_app.py": source})
    assert _findings(root) == {("proj/celery_app.py", 16, "CEL006")}


def test_a_worker_started_in_a_sub_folder_names_its_module_by_suffix(tmp_path: Path) -> None:
    """`cd proj && celery -A celery_app worker`: the only module ending in .celery_app is the
    entry, so a task module it never imports is reported."""
    root = write_project(
        tmp_path,
        {
            "Procfile": "worker: cd proj && celery -A celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": CELERY_APP,
            "proj/orphan.py": "from proj.celery_app import app\n\n\n@app.task\ndef job():\n    pass\n",
        },
    )
    assert _findings(root) == {("proj/orphan.py", 4, "CEL002")}


def test_without_a_worker_command_a_top_module_importing_the_app_may_be_the_entry(tmp_path: Path) -> None:
    """No deploy file: a module that imports the app and that nothing imports may be what
    `celery -A` names (fallback entries), so its tasks are not reported as unregistered."""
    files = {
        "proj/__init__.py": "",
        "proj/celery_app.py": CELERY_APP,
        "proj/tasks.py": "from proj.celery_app import app\n\n\n@app.task\ndef job():\n    pass\n",
    }
    assert _findings(write_project(tmp_path / "fallback", dict(files))) == set()
    # imported by other code (a CLI that builds the whole app): it may be loaded that way
    files["proj/cli.py"] = "import proj.tasks  # noqa\n"
    assert _findings(write_project(tmp_path / "imported", dict(files))) == set()
    # imported by tests only: no worker loads it
    files["tests/test_tasks.py"] = files.pop("proj/cli.py")
    assert _findings(write_project(tmp_path / "tested", dict(files))) == {("proj/tasks.py", 4, "CEL002")}
    files["Procfile"] = "worker: celery -A proj.celery_app worker\n"
    assert _findings(write_project(tmp_path / "command", dict(files))) == {("proj/tasks.py", 4, "CEL002")}


def test_two_apps_created_in_one_module_stay_two_apps(tmp_path: Path) -> None:
    """Each Celery() call is its own app (identified by its line): only the app without a
    backend is reported."""
    source = (
        "from celery import Celery\n\n"
        'stored = Celery("stored", broker="redis://", backend="redis://")\n'
        'dropped = Celery("dropped", broker="redis://")\n\n\n'
        "@dropped.task(time_limit=60)\ndef add(x, y):\n    return x + y\n\n\n"
        "def view():\n    return add.delay(1, 2).get()\n"
    )
    root = write_project(tmp_path, {"proj/__init__.py": "", "proj/celery_app.py": source})
    assert _findings(root) == {("proj/celery_app.py", 4, "CEL001")}


@pytest.mark.parametrize(
    "models",
    [
        "from django.db import models\n\n\nclass Order(models.Model):\n    pass\n",
        "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n\n\nclass Order(Base):\n    pass\n",
        "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass Order(Base):\n    pass\n",
    ],
    ids=["django", "DeclarativeBase", "declarative_base"],
)
def test_an_orm_instance_is_an_unserializable_argument(tmp_path: Path, models: str) -> None:
    """Django models, SQLAlchemy 2 DeclarativeBase and 1.x declarative_base() classes are ORM
    models; a plain class is not. (They are defined in the tasks module: a module with no Celery or Flask word is only
    scanned, and there `Base = declarative_base()` is not evaluated.)"""
    source = (
        models + "\n\nfrom celery import Celery\n\n"
        'app = Celery("shop", broker="redis://", backend="redis://")\n\n\n'
        "@app.task(time_limit=60)\ndef ship(order):\n    return order\n\n\n"
        "class Point:\n    pass\n\n\n"
        "def view(pk):\n    ship.delay(Order.objects.get(pk=pk))\n    ship.delay(Order())\n    ship.delay(Point())\n"
    )
    calls = [number for number, line in enumerate(source.splitlines(), 1) if "ship.delay(" in line]
    root = write_project(tmp_path, {"shop/__init__.py": "", "shop/tasks.py": source})
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    assert [(f.path, f.line, f.code) for f in findings] == [("shop/tasks.py", line, "CEL005") for line in calls]
    assert ["a Order ORM instance" in f.message for f in findings] == [True, True, False]
    assert "an instance of Point" in findings[2].message  # a plain project class is no ORM model


def test_receivers_of_a_project_signal_sent_at_worker_start_run(tmp_path: Path) -> None:
    """An import_modules receiver sends a signal the project defines; that signal's receivers
    run at worker start too, and the module one of them imports is registered."""
    root = write_project(
        tmp_path,
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": CELERY_APP + "\nimport proj.hooks  # noqa\n",
            "proj/signals.py": "from celery.utils.dispatch import Signal\n\nplugins_ready = Signal()\n",
            "proj/hooks.py": (
                "from celery.signals import import_modules\n\nfrom proj.signals import plugins_ready\n\n\n"
                "@import_modules.connect\ndef load(sender=None, **kwargs):\n    plugins_ready.send(sender)\n"
            ),
            "proj/plugin.py": (
                "from celery.utils.log import get_task_logger\n\nfrom proj.signals import plugins_ready\n\n\n"
                "@plugins_ready.connect\ndef register(sender=None, **kwargs):\n    import proj.late  # noqa\n"
            ),
            "proj/late.py": "from proj.celery_app import app\n\n\n@app.task\ndef job():\n    pass\n",
        },
    )
    assert _findings(root) == set()


CONTEXT_APP = (
    "from celery import Celery\nfrom flask import Flask, current_app\n\n"
    "flask_app = Flask(__name__)\n"
    'celery = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)\n\n\n'
    "@celery.task\ndef job():\n    return current_app.name\n"
)


@pytest.mark.parametrize(
    ("worker_module", "expected"),
    [
        ("from proj.app import celery, flask_app\n\nflask_app.app_context().push()\n", set()),
        ("from proj.app import celery, flask_app\n\nctx = flask_app.app_context()\nctx.push()\n", set()),
        ("from proj.app import celery, flask_app\n\nctx = flask_app.app_context()\n", {("proj/app.py", 10, "CEL003")}),
    ],
)
def test_an_app_context_pushed_by_the_worker_entry_covers_tasks(tmp_path: Path, worker_module: str, expected: Set[Tuple[str, int, str]]) -> None:
    """`ctx = flask_app.app_context(); ctx.push()` in the worker's entry module provides the
    context as `flask_app.app_context().push()` does; making the context without pushing it does not."""
    root = write_project(
        tmp_path,
        {
            "Procfile": "worker: celery -A celery_worker.celery worker\n",
            "proj/__init__.py": "",
            "proj/app.py": CONTEXT_APP,
            "celery_worker.py": worker_module,
        },
    )
    assert _findings(root) == expected


def test_a_shared_task_belongs_to_the_app_of_the_worker_that_loads_it(tmp_path: Path) -> None:
    """Two apps, so a @shared_task belongs to each app a worker that imports it loads: here the
    app without a time limit, so the task is reported."""
    root = write_project(
        tmp_path,
        {
            "Procfile": "one: celery -A proj.one worker\ntwo: celery -A proj.two worker\n",
            "proj/__init__.py": "",
            "proj/one.py": 'from celery import Celery\n\napp = Celery("one", broker="redis://", backend="redis://")\n\nimport proj.jobs  # noqa\n',
            "proj/two.py": 'from celery import Celery\n\napp = Celery("two", broker="redis://", backend="redis://", task_time_limit=5)\n',
            "proj/jobs.py": "from celery import shared_task\n\n\n@shared_task\ndef job():\n    pass\n",
        },
    )
    assert _findings(root) == {("proj/jobs.py", 4, "CEL006")}


def test_flask_mail_send_in_a_task_needs_an_app_context(tmp_path: Path) -> None:
    source = (
        "from celery import Celery\nfrom flask_mail import Mail, Message\n\n"
        "mail = Mail()\n"
        'celery = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)\n\n\n'
        "@celery.task\ndef notify(address):\n"
        "    message = Message('hi', recipients=[address])\n"
        "    mail.send(message)\n"
    )
    root = write_project(tmp_path, {"proj/__init__.py": "", "proj/tasks.py": source})
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    assert [(f.path, f.line, f.code) for f in findings] == [("proj/tasks.py", 11, "CEL003")]
    assert "Flask-Mail mail.send()" in findings[0].message


def test_installed_apps_built_from_other_lists_and_related_name_are_followed(tmp_path: Path) -> None:
    """cookiecutter-django's `INSTALLED_APPS = DJANGO_APPS + LOCAL_APPS`, and
    `autodiscover_tasks(..., related_name="jobs")`: the worker imports shop.jobs, not shop.tasks."""
    root = write_project(
        tmp_path,
        {
            "Procfile": "worker: celery -A mysite worker\n",
            "mysite/__init__.py": "",
            "mysite/settings.py": (
                'DJANGO_APPS = ["django.contrib.auth"]\nLOCAL_APPS = ["shop"]\n'
                "INSTALLED_APPS = DJANGO_APPS + LOCAL_APPS\n"
                'CELERY_RESULT_BACKEND = "redis://"\nCELERY_TASK_TIME_LIMIT = 60\n'
            ),
            "mysite/celery.py": DJANGO_CELERY.replace(
                "app.autodiscover_tasks(lambda: settings.INSTALLED_APPS)", 'app.autodiscover_tasks(related_name="jobs")'
            ),
            "shop/__init__.py": "",
            "shop/jobs.py": "from celery import shared_task\n\n\n@shared_task\ndef restock():\n    pass\n",
            "shop/tasks.py": "from mysite.celery import app\n\n\n@app.task\ndef unlisted():\n    pass\n",
        },
    )
    assert _findings(root) == {("shop/tasks.py", 4, "CEL002")}


def test_a_config_dict_with_a_computed_key_may_set_anything(tmp_path: Path) -> None:
    source = (
        "from celery import Celery\n\n"
        'PREFIX = "result"\n'
        'app = Celery("proj", broker="redis://")\n'
        'app.config_from_object({"task_time_limit": 5, PREFIX + "_backend": "redis://"})\n\n\n'
        "@app.task\ndef add(x, y):\n    return x + y\n\n\n"
        "def view():\n    return add.delay(1, 2).get()\n"
    )
    files = {"proj/__init__.py": "", "proj/celery_app.py": source}
    assert _findings(write_project(tmp_path / "computed", dict(files))) == set()
    files["proj/celery_app.py"] = source.replace(', PREFIX + "_backend": "redis://"', "")
    assert _findings(write_project(tmp_path / "literal", dict(files))) == {("proj/celery_app.py", 4, "CEL001")}


def test_a_time_limit_inherited_from_a_project_base_class_counts(tmp_path: Path) -> None:
    """class_attr() looks through project base classes: a limit set on the base's base is found."""
    source = (
        "from celery import Celery, Task\n\n\n"
        "class LimitedTask(Task):\n    soft_time_limit = 50\n\n\n"
        "class JobTask(LimitedTask):\n    pass\n\n\n"
        'app = Celery("proj", broker="redis://", backend="redis://")\n\n\n'
        "@app.task(base=JobTask)\ndef limited():\n    pass\n\n\n"
        "@app.task\ndef unlimited():\n    pass\n"
    )
    root = write_project(tmp_path, {"proj/__init__.py": "", "proj/celery_app.py": source})
    assert _findings(root) == {("proj/celery_app.py", 20, "CEL006")}


def test_dotted_and_two_level_relative_imports_and_conf_setdefault_are_followed(tmp_path: Path) -> None:
    """`import proj.celery_app` binds `proj`: `@proj.celery_app.app.task` is a task of that app,
    whose backend `app.conf.setdefault(...)` sets; `from ..celery_app import app` in proj.sub
    names the same app."""
    root = write_project(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/celery_app.py": (
                'from celery import Celery\n\napp = Celery("proj", broker="redis://")\n'
                'app.conf.setdefault("result_backend", "redis://")\n'
            ),
            "proj/jobs.py": (
                "import proj.celery_app\n\n\n@proj.celery_app.app.task\ndef job():\n    pass\n\n\n"
                "def view():\n    return job.delay().get()\n"
            ),
            "proj/sub/__init__.py": "",
            "proj/sub/more.py": "from ..celery_app import app\n\n\n@app.task\ndef more():\n    pass\n",
        },
    )
    assert _findings(root) == {("proj/jobs.py", 4, "CEL006"), ("proj/sub/more.py", 4, "CEL006")}


def test_an_external_task_base_may_set_limits(tmp_path: Path) -> None:
    """`base=QueueOnce` (a library's Task class not named ...Task) is not known: CEL006 stays silent."""
    source = (
        "from celery import Celery\nfrom celery_once import QueueOnce\n\n"
        'app = Celery("proj", broker="redis://", backend="redis://")\n\n\n'
        "@app.task(base=QueueOnce)\ndef once():\n    pass\n\n\n"
        "@app.task\ndef plain():\n    pass\n"
    )
    assert _findings(write_project(tmp_path, {"proj/__init__.py": "", "proj/celery_app.py": source})) == {("proj/celery_app.py", 12, "CEL006")}


def test_a_configured_worker_that_never_sets_the_backend_is_reported(tmp_path: Path) -> None:
    """`worker-apps` names the worker (no deploy command line): the backend set only in a factory it
    never calls is reported, with the factory line as evidence."""
    source = (
        'from celery import Celery\n\napp = Celery("proj", broker="redis://", task_time_limit=60)\n\n\n'
        "def configure():\n    app.conf.result_backend = 'redis://'\n\n\n"
        "@app.task\ndef add(x, y):\n    return x + y\n\n\n"
        "def view():\n    return add.delay(1, 2).get()\n"
    )
    root = write_project(tmp_path, {"proj/__init__.py": "", "proj/celery_app.py": source})
    _, findings = run([root], Settings(use_cache=False, worker_apps=("proj.celery_app",)), jobs=1)
    assert [(f.path, f.line, f.code) for f in findings] == [("proj/celery_app.py", 3, "CEL001")]
    assert [(r.path, r.line) for r in findings[0].related][:1] == [("proj/celery_app.py", 7)]


def test_an_unencodable_value_inside_a_container_is_found(tmp_path: Path) -> None:
    source = CELERY_APP + (
        "\n\n@app.task\ndef tag(labels):\n    return labels\n\n\n"
        'def view():\n    tag.delay({"labels": {"a", "b"}})\n    tag.delay([["a"], "b"])\n'
    )
    root = write_project(tmp_path, {"proj/__init__.py": "", "proj/celery_app.py": source})
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    assert [(f.path, f.line, f.code) for f in findings] == [("proj/celery_app.py", 13, "CEL005")]
    assert "is a set" in findings[0].message


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        # the constructor's namespace= applies to config_from_object's module
        ('app = Celery("proj", namespace="CELERY")\napp.config_from_object("proj.settings")\n', set()),
        # ... and without one, CELERY_TASK_TIME_LIMIT is no setting (CEL010) and limits nothing (CEL006)
        (
            'app = Celery("proj")\napp.config_from_object("proj.settings")\n',
            {("proj/celery_app.py", 7, "CEL006"), ("proj/settings.py", 1, "CEL010")},
        ),
        # an item write on app.conf sets the key
        ('app = Celery("proj")\napp.conf["task_time_limit"] = 60\n', set()),
        # a config object returned by a call is unknown, not a crash
        ('app = Celery("proj")\napp.config_from_object(load_config())\n', set()),
    ],
    ids=["namespace", "no-namespace", "conf-item", "call"],
)
def test_less_common_configuration_forms(tmp_path: Path, configuration: str, expected: Set[Tuple[str, int, str]]) -> None:
    source = "from celery import Celery\n\n" + configuration + "\n\n@app.task\ndef job():\n    pass\n"
    files = {"proj/__init__.py": "", "proj/settings.py": "CELERY_TASK_TIME_LIMIT = 60\n", "proj/celery_app.py": source}
    assert _findings(write_project(tmp_path, files)) == expected


def test_unusual_but_valid_code_crashes_no_part_of_the_model(tmp_path: Path) -> None:
    """Callees, bases and configuration values that are not plain names: each is followed or
    left unknown, never an AttributeError/IndexError."""
    root = write_project(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/helpers.py": "from os.path import *  # noqa\n",
            "proj/settings.py": "INSTALLED_APPS = get_apps()\n",
            "proj/celery_app.py": (
                "import os\n\nfrom celery import Celery\n\nfrom proj import helpers\n\n"
                'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n'
                'app = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)\n'
                "app.config_from_object(load().copy())\n"
                "app.autodiscover_tasks(get_packages())\n"
                "app.autodiscover_tasks()\n"
                "helpers.not_defined_anywhere()\n"
            ),
            "proj/shop.py": (
                "from celery import Celery\n\n"
                'shop = Celery("shop", broker="redis://", backend="redis://", task_time_limit=60)\n'
                'registry = {"job": None}\n\n\n'
                "class MyBase:\n    pass\n\n\n"
                "Base = MyBase()\n\n\n"
                "class Order(Base):\n    query = None\n\n\n"
                "class Point(make_base()):\n    pass\n\n\n"
                "@shop.task\ndef job(x):\n    return x\n\n\n"
                "def view():\n"
                '    registry["job"].delay(1)\n'
                "    job.delay(Order.query)\n"
                "    job.delay(Order())\n"
                "    job.delay(Point())\n"
            ),
        },
    )
    assert _findings(root) == set()
