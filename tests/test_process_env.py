"""Deployed processes' environments: the compose reader, each file kind, web command detection."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from celerylint.model import yamlish
from celerylint.model.deploy import scan_deploy_files
from celerylint.model.env_config import Seen
from celerylint.model.process_env import FileProcesses, ProcessEnv, processes_of, web_server, web_targets


def _plain(node: yamlish.Node) -> object:
    if isinstance(node, yamlish.Scalar):
        return node.text
    if isinstance(node, yamlish.Sequence):
        return [_plain(item) for item in node.items]
    return {key: _plain(value) for key, _, value in node.items}


def _yaml(text: str) -> object:
    return _plain(yamlish.parse(textwrap.dedent(text)))


def test_yaml_block_structure_and_scalars() -> None:
    assert _yaml(
        """
        a: 1  # comment
        b: "x # not a comment"
        c: 'it''s'
        d:
        - one
        - two: 2
          three: 3
        e: [celery, "-A", 'proj', worker]
        f: {K: v, L: "w"}
        g: >
          celery -A proj
          worker
        h: |
          line one
          line two
        i:
        j: ~
        """
    ) == {
        "a": "1", "b": "x # not a comment", "c": "it's", "d": ["one", {"two": "2", "three": "3"}],
        "e": ["celery", "-A", "proj", "worker"], "f": {"K": "v", "L": "w"},
        "g": "celery -A proj worker", "h": "line one\nline two", "i": None, "j": None,
    }


def test_yaml_anchors_aliases_and_merge_keys() -> None:
    document = _yaml(
        """
        x-env: &env
          A: "1"
          B: "2"
        x-base: &base
          image: app
          environment: *env
        services:
          web:
            <<: *base
            command: gunicorn app
          worker:
            <<: [*base]
            image: other
        """
    )
    assert isinstance(document, dict)
    assert document["services"] == {
        "web": {"image": "app", "environment": {"A": "1", "B": "2"}, "command": "gunicorn app"},
        "worker": {"image": "other", "environment": {"A": "1", "B": "2"}},  # explicit keys win
    }


def test_yaml_lines_follow_anchors() -> None:
    node = yamlish.parse("x: &c\n  command: celery -A p worker\ns:\n  w:\n    <<: *c\n")
    assert isinstance(node, yamlish.Mapping)
    services = node.get("s")
    assert isinstance(services, yamlish.Mapping)
    worker = services.get("w")
    assert isinstance(worker, yamlish.Mapping)
    assert worker.entry("command") is not None and worker.entry("command")[1] == 2  # type: ignore[index]


@pytest.mark.parametrize(
    "text",
    ["a: !reset []\n", "a: *missing\n", "a:\n  : x\n", "a: [1, 2\n", "? complex\n: key\n", "a: 1\n b: 2\n", "a: 'open\n", "---\na: 1\n---\nb: 2\n"],
)
def test_yaml_outside_the_subset_is_an_error(text: str) -> None:
    with pytest.raises(yamlish.YamlError):
        yamlish.parse(text)


@pytest.mark.parametrize(
    "command, server",
    [
        ("gunicorn proj.wsgi:application -b 0.0.0.0:8000", "gunicorn"),
        ("/venv/bin/gunicorn proj.wsgi", "gunicorn"),
        ("python manage.py migrate && python manage.py runserver 0.0.0.0:8000", "manage.py runserver"),
        ("sh -c 'python manage.py migrate && exec uwsgi --ini uwsgi.ini'", "uwsgi"),
        ("poetry run flask run --host 0.0.0.0", "flask run"),
        ("python -m uvicorn app:app", "uvicorn"),
        ("exec daphne proj.asgi:application", "daphne"),
        ("pip install gunicorn", None),
        ("celery -A proj worker", None),
        ("flask db upgrade", None),
        ("echo gunicorn", None),
        ("./initialize_data.sh ./manage.py runserver 0.0.0.0:8000", "manage.py runserver"),
        ("/wait-for-it.sh db:5432 -- gunicorn proj.wsgi", "gunicorn"),
        ("./deploy.sh gunicorn-config.py", None),
    ],
)
def test_web_server(command: str, server: Optional[str]) -> None:
    assert web_server(command) == server


@pytest.mark.parametrize(
    "command, targets",
    [
        ("gunicorn -b 0.0.0.0:8000 -k uvicorn.workers.UvicornWorker proj.asgi:application", ("uvicorn.workers.UvicornWorker", "proj.asgi")),
        ("flask --app=shop.wsgi run --port 5000", ("shop.wsgi",)),
        ("uwsgi --ini uwsgi.ini", ()),
        ("python manage.py runserver 0.0.0.0:8000", ()),
    ],
)
def test_web_targets(command: str, targets: Tuple[str, ...]) -> None:
    assert web_targets(command) == targets


def _processes(name: str, text: str) -> FileProcesses:
    text = textwrap.dedent(text).lstrip("\n")
    lines = list(enumerate(text.splitlines(), 1))
    found = processes_of(name, name, text, lines)
    assert found is not None
    return found


def _vars(env: ProcessEnv) -> Dict[str, Optional[str]]:
    return {var.name: var.value for var in env.variables}


COMPOSE = """
services:
  web:
    build: .
    command: gunicorn proj.wsgi
    environment:
      - BROKER=redis://r/0
      - FROM_SHELL
  worker:
    build: .
    command: >
      celery -A proj worker
    environment:
      BROKER: redis://r/1
      EMPTY:
  other:
    build: .
    command: celery -A proj beat
    env_file: .env
  partial:
    command: celery -A proj worker -Q x
"""


def test_compose_services() -> None:
    found = _processes("docker-compose.yml", COMPOSE)
    assert [(web.server, web.origin.line) for web in found.webs] == [("gunicorn", 4)]
    web = found.webs[0].env
    assert _vars(web) == {"BROKER": "redis://r/0", "FROM_SHELL": None}
    assert web.inherits is None and web.deployment == "docker-compose.yml"
    [worker] = found.envs_at(11)  # the folded command's second line
    assert _vars(worker) == {"BROKER": "redis://r/1", "EMPTY": None}
    assert worker.get("BROKER") is not None and worker.get("BROKER").origin.line == 13  # type: ignore[union-attr]
    [beat] = found.envs_at(17)
    assert beat.inherits == "env_file .env"
    [partial] = found.envs_at(20)
    assert partial.inherits is not None  # no image or build: another file completes it


def test_compose_override_file_makes_services_open(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent(COMPOSE).lstrip("\n"))
    (tmp_path / "docker-compose.override.yml").write_text("services:\n  worker:\n    environment:\n      BROKER: redis://r/0\n")
    paths = sorted(tmp_path.iterdir())
    facts = scan_deploy_files(paths, tmp_path)
    envs = {command.origin.line: command.env for command in facts.workers if command.origin.rel == "docker-compose.yml"}
    assert envs[11] is not None and envs[11].inherits == "what docker-compose.override.yml adds"


def test_one_command_shared_by_services_through_an_anchor(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "x-worker: &worker\n  build: .\n  command: celery -A proj worker\n"
        "services:\n  a:\n    <<: *worker\n    environment: {Q: a}\n  b:\n    <<: *worker\n    environment: {Q: b}\n"
    )
    facts = scan_deploy_files([tmp_path / "compose.yaml"], tmp_path)
    assert sorted(_vars(command.env)["Q"] for command in facts.workers if command.env) == ["a", "b"]  # type: ignore[misc]


def test_procfile_inline_assignments_over_the_platform() -> None:
    found = _processes("Procfile", "web: REDIS_URL=redis://a gunicorn app:app\nworker: celery -A app worker\n")
    assert [web.server for web in found.webs] == ["gunicorn"]
    assert _vars(found.webs[0].env) == {"REDIS_URL": "redis://a"}
    [worker] = found.envs_at(2)
    assert worker.variables == () and worker.inherits == found.webs[0].env.inherits  # the same platform


def test_shell_script_exports_before_the_command() -> None:
    found = _processes(
        "start.sh",
        """
        #!/bin/sh
        export BROKER=redis://r/0 DEBUG=1
        exec celery -A proj worker
        export BROKER=redis://r/1
        LEVEL=info gunicorn proj.wsgi
        """,
    )
    assert _vars(found.envs_at(3)[0]) == {"BROKER": "redis://r/0", "DEBUG": "1"}
    assert _vars(found.webs[0].env) == {"BROKER": "redis://r/1", "DEBUG": "1", "LEVEL": "info"}
    assert found.webs[0].env.get("BROKER").value == "redis://r/1"  # type: ignore[union-attr]


def test_sourced_file_drops_what_was_exported_before() -> None:
    found = _processes("run.sh", "export BROKER=redis://r/0\n. ./env.sh\ncelery -A proj worker\n")
    env = found.envs_at(3)[0]
    assert env.get("BROKER") is None and env.inherits == "a file run.sh reads"


def test_makefile_exports_reach_every_recipe() -> None:
    found = _processes("Makefile", "export BROKER = redis://r/0\nworker:\n\tLEVEL=info celery -A proj worker\nweb:\n\tgunicorn proj.wsgi\n")
    assert _vars(found.envs_at(3)[0]) == {"BROKER": "redis://r/0", "LEVEL": "info"}
    assert _vars(found.webs[0].env) == {"BROKER": "redis://r/0"}


def test_systemd_unit() -> None:
    found = _processes(
        "worker.service",
        """
        [Service]
        Environment="BROKER=redis://r/0" DEBUG=1
        ExecStart=/srv/venv/bin/celery -A proj worker
        """,
    )
    env = found.envs_at(3)[0]
    assert _vars(env) == {"BROKER": "redis://r/0", "DEBUG": "1"} and env.inherits is None and env.deployment == "the systemd units in ."
    with_file = _processes("web.service", "[Service]\nEnvironmentFile=-/etc/proj.env\nExecStart=/srv/venv/bin/gunicorn proj.wsgi\n")
    assert with_file.webs[0].env.inherits == "EnvironmentFile /etc/proj.env"


def test_supervisor_programs() -> None:
    found = _processes(
        "supervisord.conf",
        """
        [supervisord]
        environment=DEBUG="1"
        [program:web]
        command=gunicorn proj.wsgi
        environment=BROKER="redis://r/0",LEVEL=info
        [program:worker]
        command=celery -A proj worker
        """,
    )
    assert _vars(found.webs[0].env) == {"DEBUG": "1", "BROKER": "redis://r/0", "LEVEL": "info"}
    assert _vars(found.envs_at(7)[0]) == {"DEBUG": "1"}


def test_dockerfile_env_is_ambient() -> None:
    found = _processes(
        "Dockerfile", 'FROM python:3.12 AS base\nENV OLD=1\nFROM base\nENV BROKER=redis://r/0 DEBUG=1\nENV LEVEL info\nCMD ["gunicorn", "proj.wsgi"]\n'
    )
    assert [web.server for web in found.webs] == ["gunicorn"]
    assert _vars(found.webs[0].env) == {"BROKER": "redis://r/0", "DEBUG": "1", "LEVEL": "info"}  # this stage's
    assert found.webs[0].env.inherits == "the image base"
    assert found.ambient == ["OLD", "BROKER", "DEBUG", "LEVEL"]


def test_dotenv_files_are_ambient() -> None:
    assert _processes(".env.production", "# comment\nBROKER=redis://r/0\nexport DEBUG=1\n").ambient == ["BROKER", "DEBUG"]


def test_yaml_that_is_not_compose_has_no_processes() -> None:
    text = "jobs:\n  test:\n    env:\n      A: 1\n"
    assert processes_of("ci.yml", "ci.yml", text, list(enumerate(text.splitlines(), 1))) is None


def test_services_built_from_other_folders_are_other_deployments() -> None:
    found = _processes(
        "compose.yml",
        "services:\n  a:\n    build: ./api\n    command: gunicorn api.wsgi\n"
        "  b:\n    build:\n      context: .\n    command: gunicorn proj.wsgi\n  c:\n    image: x\n    command: uwsgi --ini u.ini\n",
    )
    assert [web.env.deployment for web in found.webs] == ["compose.yml (built from ./api)", "compose.yml", "compose.yml"]


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("amqp://guest:guest@rabbitmq//", "amqp://guest:guest@rabbitmq:5672//", True),
        ("amqp://rabbitmq", "pyamqp://guest:guest@rabbitmq:5672//", True),
        ("amqp://guest@localhost//", "amqp://localhost", True),
        ("redis://redis:6379/0", "redis://redis", True),
        ("redis://redis:6379/0", "redis://redis:6379/1", False),
        ("redis://redis:6379/0", "redis://cache:6379/0", False),
        ("amqp://rabbitmq//", "amqp://rabbitmq/app", False),
        ("amqp://a:b@rabbitmq//", "amqp://a:c@rabbitmq//", False),
        ("sqs://", "sqs://", True),
    ],
)
def test_brokers_written_two_ways(a: str, b: str, same: bool) -> None:
    assert Seen(a, True).differs(Seen(b, True)) is not same


@pytest.mark.parametrize(
    "text",
    [
        "".join("  " * depth + f"k{depth}:\n" for depth in range(3000)),  # deeper than the recursion limit
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "services:\n  a:\n    command: [\n" + "      x,\n" * 100_000 + "    ]\n",  # one long flow collection
        "a" + " " * 300_000 + "b\n",  # no key, a long run of spaces
        "- " * 50_000 + "x\n",
    ],
)
def test_hostile_yaml_finishes(text: str) -> None:
    import time

    started = time.perf_counter()
    try:
        yamlish.parse(text)
    except yamlish.YamlError:
        pass
    assert time.perf_counter() - started < 5


LOGICAL_LINE_SAMPLES = [
    "celery -A proj worker \\\n  -Q a,b\n",
    "web: gunicorn app\nworker: celery -A proj worker\n",
    "a \\   \nb\nc\\",
    "x\\\x0cy\n",  # a form feed ends a line for splitlines
    "x\\\x1cy\r\nz",
    "no continuation \\n here\n",
    "path\\to\\file\n",
    "a\\\r\nb\r\n",
    "",
    "long " * 3000 + "\nshort\n",
]


@pytest.mark.parametrize("text", LOGICAL_LINE_SAMPLES)
def test_logical_lines_fast_path_is_the_joining_loop(text: str) -> None:
    """Files with no continuation skip the joining loop; the lines must be the loop's."""
    from celerylint.model.deploy import _joined_lines, _logical_lines

    assert _logical_lines(text) == _joined_lines(text)


PINNED_SAMPLES = [
    "celery==5.3.1\nkombu>=5.3\nFlask_SQLAlchemy~=3.0\nflask==2.3\n",
    "Celery[redis] == 5.2.7\nmyflask==1.0\nflask-sqlalchemy==2.5\n",
    'dependencies = ["celery>=5.4", "django-celery-beat==2.5", "Flask>=3"]\n',
    "celeryflask==1\ncelery==1 celery==2\nKOMBU===5.0.0\n",
    "# ﬂask is not flask; Celery==5.1 after a non-ASCII letter é\n",
    "",
]


@pytest.mark.parametrize("text", PINNED_SAMPLES)
def test_pinned_versions_are_those_the_expression_finds_anywhere(text: str) -> None:
    """The pinned versions are looked for only where a package name starts: the same matches
    as the expression tried at every position."""
    from celerylint.model.deploy import PINNED, _pinned

    assert [m.span() for m in _pinned(text)] == [m.span() for m in PINNED.finditer(text)]
