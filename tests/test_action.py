"""The README's pre-commit and GitHub Actions snippets work from this repository as written: the
Action (action.yml) installs the checkout, runs celerylint into SARIF and uploads it; the local
pre-commit hook is the published one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.conftest import REPO, write_project

yaml = pytest.importorskip("yaml")  # pre-commit (a test extra) depends on PyYAML

SHA = re.compile(r"^[0-9a-f]{40}$")


def _action() -> Dict[str, Any]:
    document = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _readme_section(title: str) -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"\n## {title}\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def _yaml_blocks(section: str) -> List[Any]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)]


def test_the_action_installs_this_checkout_runs_sarif_and_uploads_it() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert {name: inputs[name]["default"] for name in ("args", "python-version", "upload")} == {"args": ".", "python-version": "3.12", "upload": "true"}
    setup, install, lint, upload = action["runs"]["steps"]
    assert setup["uses"].startswith("actions/setup-python@") and setup["with"]["python-version"] == "${{ inputs.python-version }}"
    assert '"$GITHUB_ACTION_PATH"' in install["run"] and "pip install" in install["run"]
    assert lint["run"].startswith("celerylint --output-format sarif --output-file \"$SARIF_FILE\" --exit-zero")
    assert lint["env"] == {"CELERYLINT_ARGS": "${{ inputs.args }}", "SARIF_FILE": "${{ inputs.sarif-file }}"}
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@") and upload["if"] == "inputs.upload == 'true'"
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"
    assert all(step.get("shell") == "bash" for step in (install, lint))  # a composite run step must name its shell


def test_the_action_run_step_writes_a_sarif_report(tmp_path: Path) -> None:
    """The step's own shell line, run as the runner runs it, on a project with a finding."""
    (_, _, lint, _) = _action()["runs"]["steps"]
    root = write_project(tmp_path / "consumer", {"proj/__init__.py": "", "proj/tasks.py": "from celery import Celery\n\napp = Celery('p', broker='redis://')\n\n\n@app.task\ndef job():\n    pass\n"})
    env = {**os.environ, "CELERYLINT_ARGS": "proj", "SARIF_FILE": "out.sarif", "PYTHONPATH": str(REPO)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(["bash", "-e", "-c", lint["run"]], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # --exit-zero: the findings go to code scanning
    results = json.loads((root / "out.sarif").read_text())["runs"][0]["results"]
    assert [result["ruleId"] for result in results] == ["CEL006"]


def test_the_readme_workflow_uses_this_action_with_its_permission() -> None:
    section = _readme_section("GitHub Actions (code scanning)")
    workflow = _yaml_blocks(section)[0]
    job = workflow["jobs"]["celerylint"]
    assert job["permissions"]["security-events"] == "write"
    (step,) = [step for step in job["steps"] if step.get("uses", "").startswith("celerylint/celerylint@")]
    assert SHA.match(step["uses"].split("@", 1)[1])
    assert set(step.get("with", {})) <= set(_action()["inputs"])


def test_the_readme_hooks_match_the_published_hook() -> None:
    """The remote hook names the hook this repository publishes; the local one is a copy of it."""
    (published,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    remote, local = _yaml_blocks(_readme_section("pre-commit"))
    (repo,) = remote["repos"]
    assert SHA.match(repo["rev"]) and [hook["id"] for hook in repo["hooks"]] == [published["id"]]
    (local_repo,) = local["repos"]
    (hook,) = local_repo["hooks"]
    assert local_repo["repo"] == "local"
    for key in ("id", "entry", "language", "types", "files", "require_serial"):
        assert hook[key] == published[key], key
    (dependency,) = hook["additional_dependencies"]
    name, _, url = dependency.partition(" @ git+")
    assert name == "celerylint" and SHA.match(url.rsplit("@", 1)[1])


@pytest.mark.slow
def test_the_readme_local_hook_runs_for_real(tmp_path: Path) -> None:
    """The README's `repo: local` hook, installing this checkout by path instead of the git URL."""
    if shutil.which("pre-commit") is None or shutil.which("git") is None:
        pytest.skip("needs pre-commit and git")
    config = _yaml_blocks(_readme_section("pre-commit"))[1]
    config["repos"][0]["hooks"][0]["additional_dependencies"] = [f"celerylint @ file://{REPO}"]
    repo = write_project(
        tmp_path / "consumer",
        {
            "Procfile": "worker: celery -A proj.celery_app worker\n",
            "proj/__init__.py": "",
            "proj/celery_app.py": "from celery import Celery\n\napp = Celery('proj', broker='redis://', backend='redis://', task_time_limit=60)\n",
            "proj/reports.py": "from proj.celery_app import app\n\n\n@app.task\ndef build(report_id):\n    return report_id\n",
            ".pre-commit-config.yaml": yaml.safe_dump(config),
        },
    )
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    env.update({"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
    env.pop("PYTHONPATH", None)  # the hook's own environment, not this checkout on the path
    for command in (["git", "init", "-q"], ["git", "add", "."]):
        subprocess.run(command, cwd=repo, check=True, env=env, capture_output=True)
    done = subprocess.run(["pre-commit", "run", "--files", "proj/reports.py"], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "proj/reports.py:4:2: CEL002" in done.stdout
