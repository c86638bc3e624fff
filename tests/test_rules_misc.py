"""CEL016, CEL017, CEL023, CEL024: the claims their messages make, checked against the installed
Celery where it can be, and the decisions their docs state (what counts as a secret, a guarded
import, a write, a known Flask config)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from celerylint.config import Settings
from celerylint.engine import run
from celerylint.facts import facts_from_bytes
from celerylint.facts.types import ImportFact
from celerylint.groundtruth import installed_version
from celerylint.rules.compat import removed_import
from celerylint.rules.secrets import url_secret
from tests.conftest import write_project

# --- CEL017: the imports it reports really fail on the installed Celery (5.x) -----------------

REMOVED = [
    "import celery.task",
    "from celery.task import task",
    "from celery.task import periodic_task, Task",
    "from celery.task.base import Task",
    "from celery.task.control import revoke",
    "from celery.task.schedules import crontab",
    "from celery.task.sets import TaskSet",
    "import celery.decorators",
    "from celery.decorators import task, periodic_task",
    "from celery import task",
    "from celery import periodic_task",
    "from celery import decorators",
]
# What the messages tell users to write instead: these work, and are not reported.
REPLACEMENTS = [
    "from celery import shared_task, Task",
    "from celery.schedules import crontab, schedule",
    "from celery import group, signature",
    "from celery import current_task",
    "import celery",
]


def _imports(source: str) -> List[ImportFact]:
    return list(facts_from_bytes(source.encode()).imports)


def test_celery_installed_is_5_or_later() -> None:
    assert int(installed_version("celery").split(".")[0]) >= 5


@pytest.mark.parametrize("statement", REMOVED)
def test_reported_imports_fail_on_the_installed_celery(statement: str) -> None:
    (fact,) = _imports(statement)
    assert removed_import(fact) is not None
    with pytest.raises(ImportError):
        exec(statement, {})  # noqa: S102 - our own snippet, run against the installed Celery


@pytest.mark.parametrize("statement", REPLACEMENTS)
def test_replacements_import_and_are_not_reported(statement: str) -> None:
    (fact,) = _imports(statement)
    assert removed_import(fact) is None
    exec(statement, {})  # noqa: S102


@pytest.mark.parametrize(
    "source, conditional",
    [
        ("from celery.task import task\n", False),
        ("def f():\n    from celery.task import task\n", False),
        ("try:\n    from celery.task import task\nexcept ImportError:\n    task = None\n", True),
        ("try:\n    from celery.task import task\nexcept (ValueError, ModuleNotFoundError):\n    pass\n", True),
        ("try:\n    from celery.task import task\nexcept:\n    pass\n", True),
        ("try:\n    from celery.task import task\nexcept ValueError:\n    pass\n", False),
        ("try:\n    pass\nexcept ImportError:\n    from celery.task import task\n", False),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from celery.task import Task\n", True),
        ("import celery\nif celery.VERSION < (5,):\n    pass\nelse:\n    from celery.task import Task\n", True),
    ],
)
def test_imports_that_may_not_run_are_conditional(source: str, conditional: bool) -> None:
    facts = [fact for fact in _imports(source) if fact.module.startswith("celery.task")]
    assert [fact.conditional for fact in facts] == [conditional]


# --- CEL016: what is a secret ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url, host",
    [
        ("amqp://shop:Xk29fjw02@mq.shop-internal.net:5672//", "mq.shop-internal.net"),
        ("redis://:s3cr3t@redis.prod.shop.net:6379/0", "redis.prod.shop.net"),
        ("rediss://default:AbC%40123@cache.eu.shop.io:6380/0", "cache.eu.shop.io"),
        ("db+postgresql://celery:hunter2@10.0.3.7/results", "10.0.3.7"),
        ("amqp://guest:guest@localhost//;amqp://app:R3alPw@mq2.shop.net//", "mq2.shop.net"),
        ("amqp://guest:other@mq.shop.net//", "mq.shop.net"),
        ("sqs://AKIAXXEXAMPLEKEY:wJalrXUtnFEMI@sqs.us-east-1.amazonaws.com/1/q", "sqs.us-east-1.amazonaws.com"),
        ("sqs://AKIAIOSFODNN7:wJalrXUtnFEMIK7MDENG@", "AWS SQS"),  # kombu's SQS: no host, AWS keys
    ],
)
def test_secrets(url: str, host: str) -> None:
    assert url_secret(url) == host


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:guest@mq.shop.net:5672//",  # RabbitMQ's default account
        "redis://:s3cr3t@localhost:6379/0",
        "redis://:s3cr3t@127.0.0.1:6379/0",
        "redis://:s3cr3t@[::1]:6379/0",
        "redis://:s3cr3t@0.0.0.0:6379/0",
        "redis://:s3cr3t@redis:6379/0",  # a docker-compose service
        "amqp://app:s3cr3t@rabbitmq//",
        "redis://:s3cr3t@host.docker.internal:6379/0",
        "redis://:s3cr3t@@/0",
        "redis://:s3cr3t@/0",  # no host: kombu's default, localhost
        "amqp://app:s3cr3t@mq.example.com//",  # documentation domains
        "amqp://app:s3cr3t@broker.test//",
        "amqp://user:password@mq.shop.net//",  # placeholders
        "amqp://user:changeme@mq.shop.net//",
        "amqp://user:<password>@mq.shop.net//",
        "amqp://user:${RABBIT_PASSWORD}@mq.shop.net//",
        "amqp://user:{password}@mq.shop.net//",
        "amqp://user:%s@mq.shop.net//",
        "amqp://user:****@mq.shop.net//",
        "amqp://user:xxxxxx@mq.shop.net//",
        "amqp://user:@mq.shop.net//",
        "amqp://user@mq.shop.net//",
        "amqp://mq.shop.net//",
        "redis://redis.prod.shop.net:6379/0",
        "not a url: a:b@c.d",
    ],
)
def test_not_secrets(url: str) -> None:
    assert url_secret(url) is None


# --- whole projects ----------------------------------------------------------------------


def _codes(tmp_path: Path, files: Dict[str, str], code: str) -> Set[Tuple[str, int]]:
    root = write_project(tmp_path / "p", files)
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    return {(f.path, f.line) for f in findings if f.code == code}


FLASK_APP = """from celery import Celery, Task
from flask import Flask

flask_app = Flask(__name__)
{config}


class FlaskTask(Task):
    def __call__(self, *args, **kwargs):
        with flask_app.app_context():
            return self.run(*args, **kwargs)


celery = Celery("proj", broker="redis://", backend="redis://", task_cls=FlaskTask, task_time_limit=60)


@celery.task
def invite(email):
    from flask import url_for
    return url_for("accept", email=email)
"""


@pytest.mark.parametrize(
    "config, reported",
    [
        ('flask_app.config.from_mapping(SECRET_KEY="dev")', True),
        ('flask_app.config["SERVER_NAME"] = "shop.example.com"', False),
        ('flask_app.config.from_pyfile("settings.cfg")', False),  # the file may set it
        ("flask_app.config.from_prefixed_env()", False),  # FLASK_SERVER_NAME may set it
        ("flask_app.config.from_object(load_settings())", False),  # not followed
        ('SERVER_NAME = "shop.example.com"\nflask_app.config.from_object(__name__)', False),
        # A config call or key on an object not tied to an app (no call site) may be this app's.
        ('def configure(target):\n    target.config.from_mapping(DEBUG=False)', False),
        ('def configure(target):\n    target.config["SERVER_NAME"] = "shop.example.com"', False),
        # Tied to the app (and to something unknown): its keys are the app's, and known.
        ('def configure(target):\n    target.config.from_mapping(DEBUG=False)\n\n\nconfigure(flask_app)\nconfigure(other())', True),
    ],
)
def test_url_for_needs_a_known_config_without_server_name(tmp_path: Path, config: str, reported: bool) -> None:
    files = {"proj/__init__.py": "", "proj/app.py": FLASK_APP.format(config=config)}
    assert bool(_codes(tmp_path, files, "CEL024")) == reported


def test_url_for_without_any_app_context_is_cel003_only(tmp_path: Path) -> None:
    source = FLASK_APP.format(config="").replace(", task_cls=FlaskTask", "")
    files = {"proj/__init__.py": "", "proj/app.py": source}
    assert _codes(tmp_path, files, "CEL024") == set()
    line = source.splitlines().index('    return url_for("accept", email=email)') + 1
    assert _codes(tmp_path, files, "CEL003") == {("proj/app.py", line)}


def test_a_request_context_pushed_for_the_worker_silences_url_for(tmp_path: Path) -> None:
    source = FLASK_APP.format(config="").replace("flask_app.app_context()", "flask_app.test_request_context()")
    files = {"proj/__init__.py": "", "proj/app.py": source}
    assert _codes(tmp_path, files, "CEL024") == set()


def test_sequential_session_use_after_commit_is_silent(tmp_path: Path) -> None:
    files = {
        "blog/__init__.py": "",
        "blog/tasks.py": "from celery import shared_task\n\n\n@shared_task(time_limit=9)\ndef ping(i):\n    return i\n",
        "blog/views.py": (
            "from blog.tasks import ping\n\n\n"
            "def publish(session, post):\n"
            "    session.add(post)\n"
            "    session.commit()\n"
            "    ping.delay(post.id)\n"
            "    session.add(post)\n"
            "    session.rollback()\n"
            "    ping.delay(post.id)\n"
            "    session.commit()\n"
            "    session.add(post)\n"
            "    ping.delay(post.id)\n"
            "    session.commit()\n"
        ),
    }
    assert _codes(tmp_path, files, "CEL023") == {("blog/views.py", 13)}


TEST_CODE_PROJECT = {
    "pyproject.toml": "",
    "proj/__init__.py": "",
    "proj/celery_app.py": "from celery import Celery\napp = Celery('proj', broker='redis://', task_time_limit=5)\n",
    "proj/tasks.py": "from proj.celery_app import app\n\n\n@app.task\ndef add(a, b):\n    return a + b\n",
    # The same calls: wrong arity (CEL009) and a set (CEL005), once in code and once in tests.
    "proj/views.py": "from proj.tasks import add\n\n\ndef view():\n    add.delay(1)\n    add.delay({1}, 2)\n",
    "tests/test_views.py": "from proj.tasks import add\n\n\ndef test_add():\n    add.delay(1)\n    add.delay({1}, 2)\n",
    "proj/test_helpers.py": "from proj.tasks import add\n\n\ndef helper():\n    add.delay(1)\n",
}


def test_test_code_is_read_for_its_imports_only(tmp_path: Path) -> None:
    """Test code never runs on a worker: the same mistakes are reported in code, not in tests."""
    root = write_project(tmp_path, TEST_CODE_PROJECT)
    _, findings = run([root], Settings(use_cache=False), jobs=1)
    found = {(f.path, f.code) for f in findings}
    assert ("proj/views.py", "CEL009") in found and ("proj/views.py", "CEL005") in found
    assert not {path for path, _ in found} & {"tests/test_views.py", "proj/test_helpers.py"}
    assert not facts_from_bytes(TEST_CODE_PROJECT["tests/test_views.py"].encode(), detailed=False).detailed


UNREAD_TASKS_PROJECT = {
    "proj/__init__.py": "",
    "proj/worker.py": (
        "from celery import Celery\n\n"
        "app = Celery('proj', broker='redis://', backend='redis://')\n"
        "periodic = app.task(queue='low')\n\n\n"
        "@app.task\n"
        "def charge(order_id):\n"
        "    return order_id\n"
    ),
    # No Celery word: read for its imports only, so its tasks' names are not known.
    "proj/jobs.py": "from proj.worker import periodic\n\n\n@periodic\ndef cleanup(days):\n    return days\n",
    "proj/views.py": (
        "from proj.worker import app\n\n\n"
        "def nightly():\n"
        "    app.send_task('proj.jobs.cleanup', args=[7])\n"
        "    app.send_task('proj.worker.chrage', args=[1])\n"
    ),
}


@pytest.mark.parametrize("jobs_module", [True, False])
def test_a_module_read_for_its_imports_that_may_define_tasks_silences_cel021(tmp_path: Path, jobs_module: bool) -> None:
    """A module read only for its imports that imports a task decorator may register any name:
    CEL021 judges nothing then. Without it, the typo is reported."""
    files = dict(UNREAD_TASKS_PROJECT)
    if not jobs_module:
        del files["proj/jobs.py"]
        files["proj/views.py"] = files["proj/views.py"].replace("    app.send_task('proj.jobs.cleanup', args=[7])\n", "")
    assert not facts_from_bytes(UNREAD_TASKS_PROJECT["proj/jobs.py"].encode(), detailed=True).detailed
    found = _codes(tmp_path, files, "CEL021")
    assert found == (set() if jobs_module else {("proj/views.py", 5)})
