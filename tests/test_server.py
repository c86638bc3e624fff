"""`celerylint server`: a scripted LSP client drives the server over stdin/stdout (JSON-RPC with
Content-Length framing), as an editor would. Every read has a timeout: a bug fails, never hangs."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

from celerylint.cli import main
from tests.conftest import REPO, write_project

TIMEOUT = float(os.environ.get("CELERYLINT_LSP_TIMEOUT", 20))
Message = Dict[str, Any]

APP = '''from celery import Celery

celery = Celery("proj", broker="redis://localhost", task_time_limit=60)


@celery.task(max_retries=3)
def refresh(self, feed_id):
    return feed_id


@celery.task
def add(x, y):
    return x + y
'''
APP_FIXED = APP.replace("@celery.task(max_retries=3)", "@celery.task(bind=True, max_retries=3)")
# A non-ASCII line: LSP counts UTF-16 code units, celerylint code points (the emoji is two units).
VIEWS = '''from proj.celery_app import add


def total():
    note = "café 😀"; result = add.delay(1, 2, countdown=5)
    return result.get(timeout=5)
'''
VIEWS_FIXED = '''from proj.celery_app import add


def total():
    note = "café 😀"; add.apply_async((1, 2), countdown=5)
    return note
'''

# Runs the server with a fix provider of the test's own, so the code-action plumbing is tested
# whatever celerylint.fixes offers: a safe fix (add bind=True) and an unsafe one (drop self).
FAKE_FIXES_SERVER = r'''
from celerylint.fixes import Fix, TextEdit
from celerylint.server import serve


def fake_fixes(analysis, findings, unsafe):
    out = []
    for finding in findings:
        if finding.code != "CEL014":
            continue
        lines = analysis.source_lines(finding.path)
        deco = next(n for n in range(finding.line - 1, 0, -1) if lines[n - 1].startswith("@"))
        col = lines[deco - 1].index("(") + 1
        out.append(Fix(finding.path, "Add bind=True", (TextEdit(deco, col, deco, col, "bind=True, "),), (finding,), True))
        # Offered whatever `unsafe` says: the server itself keeps unsafe fixes out of fix-all.
        at = lines[finding.line - 1].index("self")
        drop = TextEdit(finding.line, at, finding.line, at + len("self, "), "")
        out.append(Fix(finding.path, "Remove self", (drop,), (finding,), False))
    return out


serve(fixes=fake_fixes)
'''


class LspClient:
    """A minimal LSP client over a subprocess's pipes."""

    def __init__(self, argv: List[str], cwd: Path) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        # A session of its own: kill() ends the server's parse workers too.
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        self.inbox: "queue.Queue[Optional[Message]]" = queue.Queue()
        self.pending: List[Message] = []
        self.seen: List[Message] = []
        self.errors: List[bytes] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.errors.append(line)

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            headers: Dict[str, str] = {}
            while True:
                line = stream.readline()
                if not line:
                    self.inbox.put(None)
                    return
                if not line.strip():
                    break
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            self.inbox.put(json.loads(stream.read(int(headers["content-length"])).decode("utf-8")))

    def send(self, message: Message) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        ident = self.next_id
        self.send({"id": ident, "method": method, "params": params})
        reply = self.wait(lambda m: m.get("id") == ident and "method" not in m)
        assert "error" not in reply, reply
        return reply.get("result")

    def wait(self, wanted: Callable[[Message], bool], timeout: float = TIMEOUT) -> Message:
        for message in self.pending:
            if wanted(message):
                self.pending.remove(message)
                return message
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                message = self.inbox.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(f"no such message within {timeout} s; received: {self.seen[-10:]}") from None
            if message is None:
                raise AssertionError(f"the server exited: {self.stderr()}")
            self.seen.append(message)
            if "method" in message and "id" in message:  # a request from the server
                self.send({"id": message["id"], "result": None})
            if wanted(message):
                return message
            self.pending.append(message)

    def diagnostics(self, uri: str, wanted: Callable[[List[Message]], bool] = lambda _: True, version: Optional[int] = None) -> List[Message]:
        """The first (not yet consumed) diagnostics published for uri that satisfy ``wanted``."""
        message = self.wait(
            lambda m: m.get("method") == "textDocument/publishDiagnostics"
            and m["params"]["uri"] == uri
            and (version is None or m["params"].get("version") == version)
            and wanted(m["params"]["diagnostics"])
        )
        found: List[Message] = message["params"]["diagnostics"]
        return found

    def stderr(self) -> str:
        self.kill()
        time.sleep(0.2)
        return b"".join(self.errors).decode("utf-8", "replace")

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def start(self, root: Path) -> Message:
        capabilities = {
            "general": {"positionEncodings": ["utf-16"]},
            "textDocument": {"publishDiagnostics": {"relatedInformation": True}},
            "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": True}},
        }
        result: Message = self.request("initialize", {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": capabilities})
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        return uri

    def change(self, uri: str, version: int, text: str) -> None:
        change = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}
        self.notify("textDocument/didChange", change)

    def stop(self) -> int:
        self.request("shutdown", None)
        self.notify("exit", None)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            self.kill()


def _codes(diagnostics: List[Message]) -> List[str]:
    return sorted(d["code"] for d in diagnostics)


def _apply(text: str, edits: List[Message]) -> str:
    """Apply LSP text edits (UTF-16 positions) to text."""
    lines = text.splitlines(keepends=True)

    def offset(position: Message) -> int:
        line = lines[position["line"]]
        units = line.encode("utf-16-le")[: position["character"] * 2].decode("utf-16-le")
        return sum(len(before) for before in lines[: position["line"]]) + len(units)

    for edit in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]), reverse=True):
        start, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        text = text[:start] + edit["newText"] + text[end:]
    return text


@pytest.fixture
def lsp_project(tmp_path: Path) -> Path:
    pytest.importorskip("pygls")
    return write_project(tmp_path / "proj_root", {"proj/__init__.py": "", "proj/celery_app.py": APP, "proj/views.py": VIEWS})


def _client(root: Path, argv: Optional[List[str]] = None) -> LspClient:
    return LspClient(argv or [sys.executable, "-m", "celerylint", "server"], root)


def test_diagnostics_follow_the_unsaved_buffers(lsp_project: Path) -> None:
    client = _client(lsp_project)
    try:
        info = client.start(lsp_project)
        assert info["capabilities"]["hoverProvider"] and info["capabilities"]["codeActionProvider"]
        views = client.open(lsp_project / "proj/views.py", VIEWS)
        [delay] = client.diagnostics(views, version=1)
        assert delay["code"] == "CEL022" and delay["source"] == "celerylint" and delay["severity"] == 2
        line = VIEWS.splitlines()[4]
        character = len(line[: line.index("countdown=5") + len("countdown=")].encode("utf-16-le")) // 2
        assert delay["range"]["start"] == {"line": 4, "character": character}
        assert delay["codeDescription"]["href"].endswith("docs/rules.md#cel022-execution-option-in-delay")
        [task] = delay["relatedInformation"]
        assert task["location"]["uri"] == (lsp_project / "proj/celery_app.py").as_uri()
        assert task["location"]["range"]["start"] == {"line": 11, "character": 4}

        app = client.open(lsp_project / "proj/celery_app.py", APP)
        found = client.diagnostics(app, version=1)
        assert _codes(found) == ["CEL001", "CEL014"]
        backend = next(d for d in found if d["code"] == "CEL001")
        [read] = backend["relatedInformation"]  # the result read in the other file
        assert read["location"]["uri"] == views and read["location"]["range"]["start"]["line"] == 5
        bind = next(d for d in found if d["code"] == "CEL014")
        assert bind["range"] == {"start": {"line": 6, "character": 4}, "end": {"line": 6, "character": 11}}

        hover = client.request("textDocument/hover", {"textDocument": {"uri": app}, "position": {"line": 6, "character": 6}})
        assert hover["contents"]["kind"] == "markdown"
        assert "CEL014 (bind-mismatch)" in hover["contents"]["value"] and "Use instead" in hover["contents"]["value"]
        nothing = client.request("textDocument/hover", {"textDocument": {"uri": app}, "position": {"line": 0, "character": 2}})
        assert nothing is None

        client.change(app, 2, APP_FIXED)
        assert _codes(client.diagnostics(app, version=2)) == ["CEL001"]
        # A change in one file removes a finding from another open file.
        client.change(views, 2, VIEWS_FIXED)
        assert client.diagnostics(views, version=2) == []
        client.diagnostics(app, lambda found: _codes(found) == [])
        assert client.stop() == 0
    finally:
        client.kill()


def test_code_actions_offer_the_fixes(lsp_project: Path) -> None:
    client = _client(lsp_project, [sys.executable, "-c", FAKE_FIXES_SERVER])
    try:
        client.start(lsp_project)
        app = client.open(lsp_project / "proj/celery_app.py", APP)
        found = client.diagnostics(app, version=1)
        bind = next(d for d in found if d["code"] == "CEL014")
        params = {"textDocument": {"uri": app}, "range": bind["range"], "context": {"diagnostics": [bind]}}
        actions = client.request("textDocument/codeAction", params)
        by_title = {action["title"]: action for action in actions}
        assert set(by_title) == {"Add bind=True", "Remove self (unsafe)", "Fix all safely fixable celerylint findings"}
        add = by_title["Add bind=True"]
        assert add["kind"] == "quickfix" and add["isPreferred"] is True and add["diagnostics"][0]["code"] == "CEL014"
        assert by_title["Remove self (unsafe)"].get("isPreferred") is None
        fix_all = by_title["Fix all safely fixable celerylint findings"]
        assert fix_all["kind"] == "source.fixAll.celerylint"
        assert fix_all["edit"] == add["edit"]  # the safe fixes only
        edits = add["edit"]["changes"][app]
        assert edits == [{"range": {"start": {"line": 5, "character": 13}, "end": {"line": 5, "character": 13}}, "newText": "bind=True, "}]
        assert _apply(APP, edits) == APP_FIXED
        # Only the source action, as an editor's "fix all on save" asks.
        params["context"]["only"] = ["source.fixAll"]
        assert [a["title"] for a in client.request("textDocument/codeAction", params)] == ["Fix all safely fixable celerylint findings"]
        client.change(app, 2, _apply(APP, edits))
        assert _codes(client.diagnostics(app, version=2)) == ["CEL001"]
        assert client.stop() == 0
    finally:
        client.kill()


def test_code_action_applies_the_real_cel014_fix(lsp_project: Path) -> None:
    """Runs once celerylint.fixes has a fix for CEL014 (add bind=True)."""
    from celerylint.config import Settings
    from celerylint.engine import run
    from celerylint.fixes import fixes_for

    analysis, findings = run([lsp_project], Settings())
    if not fixes_for(analysis, [f for f in findings if f.code == "CEL014"]):
        pytest.skip("celerylint.fixes has no CEL014 fix yet")
    client = _client(lsp_project)
    try:
        client.start(lsp_project)
        app = client.open(lsp_project / "proj/celery_app.py", APP)
        bind = next(d for d in client.diagnostics(app, version=1) if d["code"] == "CEL014")
        params = {"textDocument": {"uri": app}, "range": bind["range"], "context": {"diagnostics": [bind]}}
        actions = client.request("textDocument/codeAction", params)
        fix = next(a for a in actions if a["kind"] == "quickfix" and not a["title"].endswith("(unsafe)"))
        client.change(app, 2, _apply(APP, fix["edit"]["changes"][app]))
        assert "CEL014" not in _codes(client.diagnostics(app, version=2))
        assert client.stop() == 0
    finally:
        client.kill()


def test_a_file_created_outside_the_editor_is_seen(tmp_path: Path) -> None:
    """The server asks to be told of files changed on disk, and reads the file list again then."""
    pytest.importorskip("pygls")
    app = 'from celery import Celery\n\ncelery = Celery("proj", broker="redis://", backend="redis://", task_time_limit=60)\n'
    views = "from proj.jobs import job\n\n\ndef go():\n    job.delay(1, 2, 3)\n"
    root = write_project(tmp_path / "w", {"proj/__init__.py": "", "proj/celery_app.py": app, "proj/views.py": views})
    client = _client(root)
    try:
        client.start(root)
        registration = client.wait(lambda m: m.get("method") == "client/registerCapability")
        [watching] = registration["params"]["registrations"]
        assert watching["method"] == "workspace/didChangeWatchedFiles"
        assert {"globPattern": "**/*.py"} in watching["registerOptions"]["watchers"]
        uri = client.open(root / "proj/views.py", views)
        assert client.diagnostics(uri, version=1) == []
        jobs = root / "proj/jobs.py"
        jobs.write_text("from proj.celery_app import celery\n\n\n@celery.task\ndef job(x):\n    return x\n")
        client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": jobs.as_uri(), "type": 1}]})
        assert _codes(client.diagnostics(uri)) == ["CEL009"]
        assert client.stop() == 0
    finally:
        client.kill()


def test_a_configuration_error_is_shown_once(tmp_path: Path) -> None:
    pytest.importorskip("pygls")
    config = '[project]\nname = "t"\n\n[tool.celerylint]\nselect = ["CEL9"]\n'
    root = write_project(tmp_path / "bad", {"pyproject.toml": config, "proj/__init__.py": "", "proj/celery_app.py": APP})
    client = _client(root)
    try:
        client.start(root)
        client.open(root / "proj/celery_app.py", APP)
        shown = client.wait(lambda m: m.get("method") == "window/showMessage")
        assert shown["params"]["type"] == 1 and "CEL9" in shown["params"]["message"]
        assert client.stop() == 0
    finally:
        client.kill()


def test_a_cold_project_is_parsed_in_worker_processes(tmp_path: Path) -> None:
    """Enough files for the parse to go to worker processes, forked while the protocol's reader
    thread waits on stdin: a worker must not hang on the lock of the stdin it inherits."""
    pytest.importorskip("pygls")
    files = {f"pkg/m{n}.py": f"from celery import shared_task\n\n\n@shared_task\ndef t{n}(x):\n    return x\n" for n in range(80)}
    root = write_project(tmp_path / "many", {"pkg/__init__.py": "", **files})
    client = _client(root, [sys.executable, "-m", "celerylint", "server", "--no-cache", "--jobs", "2"])
    try:
        client.start(root)
        uri = client.open(root / "pkg/m1.py", files["pkg/m1.py"].replace("@shared_task\n", "@shared_task(bind=True)\n").replace("t1(x)", "t1()"))
        assert _codes(client.diagnostics(uri, version=1)) == ["CEL014"]
        assert client.stop() == 0
    finally:
        client.kill()


def test_a_result_made_stale_by_an_edit_is_dropped(tmp_path: Path) -> None:
    """An edit that arrives while the analysis of the opened file runs (a cold parse of 80
    files) makes that analysis's result stale: the first diagnostics published are the edit's."""
    pytest.importorskip("pygls")
    body = "".join(f"\n\ndef helper{k}(value):\n    return [value * {k} for _ in range({k})]\n" for k in range(150))
    files = {f"pkg/m{n}.py": f"from celery import shared_task\n{body}" for n in range(80)}
    root = write_project(tmp_path / "slow", {"pkg/__init__.py": "", **files})
    client = _client(root, [sys.executable, "-m", "celerylint", "server", "--no-cache", "--jobs", "1"])
    try:
        client.start(root)
        uri = client.open(root / "pkg/m1.py", files["pkg/m1.py"])
        time.sleep(0.05)
        client.change(uri, 2, files["pkg/m1.py"] + "\n\n@shared_task(bind=True)\ndef t():\n    return 1\n")
        first = client.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")
        assert first["params"]["version"] == 2 and _codes(first["params"]["diagnostics"]) == ["CEL014"]
        assert client.stop() == 0
    finally:
        client.kill()


def test_server_without_pygls_says_what_to_install(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "pygls", None)  # `import pygls` now fails as if not installed
    monkeypatch.delitem(sys.modules, "celerylint.server", raising=False)
    assert main(["server"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "install celerylint[lsp]" in err


def test_a_lint_run_does_not_import_the_server(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"proj/__init__.py": "", "proj/celery_app.py": APP})
    script = (
        "import os, sys\nfrom celerylint.cli import main\n"
        f"main([{str(root)!r}, '--exit-zero', '--output-file', os.devnull])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol') or m == 'celerylint.server'))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr
