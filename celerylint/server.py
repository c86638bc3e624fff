"""`celerylint server`: the Language Server Protocol over stdin/stdout (pygls, the `lsp` extra).

Diagnostics for the open documents of each project, from the editor's unsaved buffers and the
rest of the project on disk: on open and save at once, on change after a short pause. Every open
document of a project is republished after each analysis, since an edit in one file can add or
remove findings in another. Hover over a diagnostic shows the rule's `--explain` text; code
actions offer the fixes of ``celerylint.fixes``.

Each project keeps its facts in memory between analyses (``WarmFacts``): a change re-parses the
edited buffer only. Analyses run one at a time on a worker thread, off the event loop; a result
that an edit made meanwhile out of date is dropped, as the edit's own analysis follows.
Positions: findings count 1-based lines and columns in code points; LSP counts 0-based lines
and, by default, UTF-16 code units (pygls's position codec converts to what the client chose).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Dict, List, Optional, Sequence, Set, Tuple

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from celerylint import __version__
from celerylint.cache import FactsCache
from celerylint.config import ConfigError, Overrides, settings_from
from celerylint.discover import absolute, project_root
from celerylint.engine import Analysis, analyse_project, findings_for
from celerylint.findings import Finding
from celerylint.fixes import Fix, TextEdit, fixes_for
from celerylint.report import DOCS_URL
from celerylint.rules import RULES_BY_CODE
from celerylint.runplan import ProjectPlan, plan_run

# A pause in typing this long starts an analysis; open and save start one at once.
DEBOUNCE_SECONDS = 0.1
SOURCE = "celerylint"
FIX_ALL_KIND = "source.fixAll.celerylint"

FixProvider = Callable[[Analysis, Sequence[Finding], bool], List[Fix]]
log = logging.getLogger(__name__)


class WarmFacts(FactsCache):
    """A project's facts kept in memory for the life of the server: the disk cache is read once
    and written after the first analysis only (a cold project's parse is kept for the next
    start); each later analysis finds every unchanged file's facts here. Holds the facts of
    the last analysis only, so an edited buffer's earlier versions do not pile up."""

    def __init__(self, root: Path, enabled: bool, directory: Optional[Path]) -> None:
        super().__init__(root, enabled, directory)
        self.written = False
        self.remembers_stats = True

    def save(self) -> None:
        if not self.written:
            super().save()
            self.written = True
        self.entries, self.used = self.used, {}


@dataclass(frozen=True)
class Buffer:
    """An open document as an analysis saw it."""

    uri: str
    path: Path
    version: Optional[int]
    text: str

    @property
    def lines(self) -> List[str]:
        return self.text.splitlines(keepends=True)


@dataclass
class ProjectState:
    """What the server keeps per project root between analyses."""

    root: Path
    facts: Optional[WarmFacts] = None  # made on the analysis thread: reading the disk cache takes time
    plan: Optional[ProjectPlan] = None
    generation: int = 0  # bumped by every edit: a result computed before the last bump is stale
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    analysis: Optional[Analysis] = None
    buffers: Dict[str, Buffer] = field(default_factory=dict)  # by uri, as last analysed
    findings: Dict[str, List[Finding]] = field(default_factory=dict)  # by uri, as last published


@dataclass(frozen=True)
class Outcome:
    analysis: Analysis
    findings: Dict[Path, List[Finding]]
    seconds: float


def _start(finding: Finding) -> Tuple[int, int]:
    """0-based line and code-point column."""
    return finding.line - 1, max(finding.col - 1, 0)


def _end(finding: Finding, lines: Sequence[str]) -> Tuple[int, int]:
    """Where the finding's span ends; a point finding spans the rest of its line's text."""
    line, col = _start(finding)
    if finding.end_line and (finding.end_line, finding.end_col) > (finding.line, finding.col):
        return finding.end_line - 1, max(finding.end_col - 1, 0)
    text = lines[line].rstrip() if 0 <= line < len(lines) else ""
    return line, max(len(text), col)


def _contains(finding: Finding, lines: Sequence[str], line: int, col: int) -> bool:
    return _start(finding) <= (line, col) <= _end(finding, lines)


def _overlaps(finding: Finding, lines: Sequence[str], start: Tuple[int, int], end: Tuple[int, int]) -> bool:
    return _start(finding) <= end and start <= _end(finding, lines)


def _edits_overlap(a: Fix, b: Fix) -> bool:
    if a.path != b.path:
        return False
    return any(
        (x.start_line, x.start_col) < (y.end_line, y.end_col) and (y.start_line, y.start_col) < (x.end_line, x.end_col)
        or (x.start_line, x.start_col) == (y.start_line, y.start_col)
        for x in a.edits
        for y in b.edits
    )


def explain_markdown(code: str) -> Optional[str]:
    rule = RULES_BY_CODE.get(code)
    return None if rule is None else rule.explain(heading="###")


class CeleryLintServer:
    """The language server: documents in, diagnostics, hovers and code actions out."""

    def __init__(
        self,
        overrides: Overrides = Overrides(),
        config_file: Optional[Path] = None,
        jobs: int = 0,
        fixes: FixProvider = fixes_for,
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        self.overrides = overrides
        self.config_file = config_file
        self.jobs = jobs
        self.fixes = fixes
        self.debounce = debounce
        self.ls = LanguageServer(SOURCE, __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        # One analysis at a time (the warm facts are not shared between threads); fixes apart,
        # so a code action does not wait for an analysis.
        self.analyser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="celerylint-analysis")
        self.fixer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="celerylint-fixes")
        self.projects: Dict[Path, ProjectState] = {}
        self.roots: Dict[str, Path] = {}  # open document uri -> its project root
        self.tasks: Set["asyncio.Task[None]"] = set()
        self.reported_errors: Set[str] = set()
        self._register()

    # --- wiring --------------------------------------------------------------------------

    def _register(self) -> None:
        ls = self.ls

        def on(feature: str, handler: Callable[[Any], Any], options: Any = None) -> None:
            # pygls marks the function it registers: a bound method cannot take attributes.
            if asyncio.iscoroutinefunction(handler):

                async def call_async(params: Any) -> Any:
                    return await handler(params)

                ls.feature(feature, options)(call_async)
            else:

                def call(params: Any) -> Any:
                    return handler(params)

                ls.feature(feature, options)(call)

        on(types.INITIALIZED, self.initialized)
        on(types.TEXT_DOCUMENT_DID_OPEN, self.did_open)
        on(types.TEXT_DOCUMENT_DID_CHANGE, self.did_change)
        on(types.TEXT_DOCUMENT_DID_SAVE, self.did_save, types.SaveOptions(include_text=False))
        on(types.TEXT_DOCUMENT_DID_CLOSE, self.did_close)
        on(types.WORKSPACE_DID_CHANGE_WATCHED_FILES, self.did_change_watched_files)
        on(types.TEXT_DOCUMENT_HOVER, self.hover)
        kinds = [types.CodeActionKind.QuickFix, FIX_ALL_KIND]
        on(types.TEXT_DOCUMENT_CODE_ACTION, self.code_action, types.CodeActionOptions(code_action_kinds=kinds))
        on(types.SHUTDOWN, self.shutdown)

    def serve(self) -> None:
        stdin, stdout = _protocol_streams()
        try:
            self.ls.start_io(stdin, stdout)
        finally:
            self.analyser.shutdown(wait=False, cancel_futures=True)
            self.fixer.shutdown(wait=False, cancel_futures=True)

    # --- documents -----------------------------------------------------------------------

    def initialized(self, params: types.InitializedParams) -> None:
        """Ask the client to report files created, deleted or changed outside the editor (a
        checkout, a new module, an edited Procfile), when it can: the file list is re-read then."""
        workspace = self.ls.client_capabilities.workspace
        watched = None if workspace is None else workspace.did_change_watched_files
        if watched is None or not watched.dynamic_registration:
            return
        globs = ["**/*.py", "**/pyproject.toml", "**/setup.cfg", "**/.gitignore", "**/Procfile*", "**/*.yml", "**/*.yaml"]
        options = types.DidChangeWatchedFilesRegistrationOptions(watchers=[types.FileSystemWatcher(glob_pattern=glob) for glob in globs])
        registration = types.Registration(id="celerylint-watched-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options)
        self.ls.client_register_capability(types.RegistrationParams(registrations=[registration]))

    def did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = _path(uri)
        if path is None:
            return
        root = project_root(path)
        self.roots[uri] = root
        state = self._state(root)
        if state.plan is not None and path not in state.plan.files.python + state.plan.files.deploy:
            state.plan = None  # a new file, or one the last plan did not walk to
        self._schedule(state, 0.0)

    def did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        root = self.roots.get(params.text_document.uri)
        if root is not None:
            self._schedule(self._state(root), self.debounce)

    def did_save(self, params: types.DidSaveTextDocumentParams) -> None:
        root = self.roots.get(params.text_document.uri)
        if root is not None:
            state = self._state(root)
            state.plan = None  # settings or the set of files may have changed
            self._schedule(state, 0.0)

    def did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        root = self.roots.pop(uri, None)
        self._publish(uri, [], None)
        if root is not None:
            state = self._state(root)
            state.findings.pop(uri, None)
            state.buffers.pop(uri, None)
            if any(other == root for other in self.roots.values()):
                self._schedule(state, 0.0)  # the file on disk replaces the unsaved buffer
            else:
                state.analysis = None  # no open file left: free the model, keep the facts warm

    def did_change_watched_files(self, params: types.DidChangeWatchedFilesParams) -> None:
        for state in self.projects.values():
            state.plan = None
            if any(root == state.root for root in self.roots.values()):
                self._schedule(state, self.debounce)

    def shutdown(self, params: None = None) -> None:
        for state in self.projects.values():
            state.generation += 1  # nothing more gets published

    def _state(self, root: Path) -> ProjectState:
        state = self.projects.get(root)
        if state is None:
            state = ProjectState(root)
            self.projects[root] = state
        return state

    # --- analysis ------------------------------------------------------------------------

    def _schedule(self, state: ProjectState, delay: float) -> None:
        state.generation += 1
        task = asyncio.get_running_loop().create_task(self._run(state, state.generation, delay))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, state: ProjectState, generation: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        if generation != state.generation:
            return  # edited again meanwhile: that edit's analysis follows
        async with state.lock:
            if generation != state.generation:
                return
            buffers = self._buffers(state.root)
            if not buffers:
                return
            loop = asyncio.get_running_loop()
            try:
                outcome = await loop.run_in_executor(self.analyser, self._analyse, state, buffers)
            except ConfigError as error:
                self._error(f"celerylint: {error}")
                return
            except Exception as error:  # noqa: BLE001 - the editor session goes on
                log.exception("analysis failed")
                self._error(f"celerylint: internal error: {type(error).__name__}: {error}")
                return
        if generation != state.generation:
            return  # stale: an edit arrived while it ran
        state.analysis = outcome.analysis
        self.ls.window_log_message(
            types.LogMessageParams(type=types.MessageType.Log, message=f"celerylint: analysed {state.root} in {outcome.seconds:.3f} s")
        )
        sources: Dict[str, List[str]] = {}  # the lines of related files, read once per publication
        for buffer in buffers:
            if self.roots.get(buffer.uri) != state.root:
                continue  # closed meanwhile
            found = outcome.findings.get(buffer.path, [])
            state.buffers[buffer.uri] = buffer
            state.findings[buffer.uri] = found
            diagnostics = [self._diagnostic(outcome.analysis, finding, buffer.lines, sources) for finding in found]
            self._publish(buffer.uri, diagnostics, buffer.version)

    def _buffers(self, root: Path) -> List[Buffer]:
        buffers = []
        for uri, doc_root in self.roots.items():
            path = _path(uri)
            if doc_root != root or path is None:
                continue
            document = self.ls.workspace.get_text_document(uri)
            buffers.append(Buffer(uri, path, document.version, document.source))
        return buffers

    def _analyse(self, state: ProjectState, buffers: Sequence[Buffer]) -> Outcome:
        """On the analysis thread: the project with the open buffers, findings by path."""
        # An analysis builds a model of many small acyclic objects: collecting cycles while it
        # runs costs a third of its time and frees nothing; the server collects between edits.
        gc.disable()
        try:
            return self._analyse_now(state, buffers)
        finally:
            gc.enable()

    def _analyse_now(self, state: ProjectState, buffers: Sequence[Buffer]) -> Outcome:
        started = time.perf_counter()
        paths = [buffer.path for buffer in buffers]
        overrides = {buffer.path: buffer.text.encode("utf-8", "surrogateescape") for buffer in buffers}
        plan = state.plan
        if plan is None:
            plan = self._plan(state.root, paths, overrides)
            state.plan = plan
        if state.facts is None:
            state.facts = WarmFacts(state.root, plan.settings.use_cache, plan.settings.cache_dir)
        first = state.analysis is None
        analysis = analyse_project(plan.root, paths, plan.settings, self.jobs, overrides, plan.files, cache=state.facts)
        by_path: Dict[Path, List[Finding]] = {}
        for finding in findings_for(analysis, paths):
            by_path.setdefault(analysis.root / finding.path, []).append(finding)
        if first:
            gc.freeze()  # the warm facts live as long as the server: no collection rescans them
        return Outcome(analysis, by_path, time.perf_counter() - started)

    def _plan(self, root: Path, paths: Sequence[Path], overrides: Dict[Path, bytes]) -> ProjectPlan:
        run_plan = plan_run(paths, lambda at: settings_from(at, self.overrides, self.config_file), overrides)
        for planned in run_plan.projects:
            if planned.root == root:
                return planned
        raise ConfigError(f"{root}: no project found for the open files")

    def _error(self, message: str) -> None:
        """Shown once per distinct message; logged every time."""
        self.ls.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=message))
        if message not in self.reported_errors:
            self.reported_errors.add(message)
            self.ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))

    # --- diagnostics ---------------------------------------------------------------------

    def _publish(self, uri: str, diagnostics: List[types.Diagnostic], version: Optional[int]) -> None:
        self.ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version))

    def _range(self, lines: Sequence[str], start: Tuple[int, int], end: Tuple[int, int]) -> types.Range:
        return types.Range(start=self._position(lines, start), end=self._position(lines, end))

    def _position(self, lines: Sequence[str], at: Tuple[int, int]) -> types.Position:
        """A code-point position in the client's units (UTF-16 unless it chose another)."""
        line, col = at
        if not 0 <= line < len(lines):
            return types.Position(line=max(line, 0), character=col)
        return self.ls.workspace.position_codec.position_to_client_units(lines, types.Position(line=line, character=col))

    def _diagnostic(
        self, analysis: Analysis, finding: Finding, lines: Sequence[str], sources: Optional[Dict[str, List[str]]] = None
    ) -> types.Diagnostic:
        rule = RULES_BY_CODE.get(finding.code)
        related = []
        sources = {} if sources is None else sources
        for item in finding.related:
            if item.path not in sources:
                sources[item.path] = analysis.source_lines(item.path) or []
            other = sources[item.path]
            point = (item.line - 1, max(item.col - 1, 0))
            location = types.Location(uri=from_fs_path(str(analysis.root / item.path)) or "", range=self._range(other, point, point))
            related.append(types.DiagnosticRelatedInformation(location=location, message=item.message))
        return types.Diagnostic(
            range=self._range(lines, _start(finding), _end(finding, lines)),
            message=finding.message,
            severity=types.DiagnosticSeverity.Warning,
            code=finding.code,
            code_description=None if rule is None else types.CodeDescription(href=f"{DOCS_URL}#{rule.code.lower()}-{rule.name}"),
            source=SOURCE,
            related_information=related or None,
        )

    # --- hover ---------------------------------------------------------------------------

    def hover(self, params: types.HoverParams) -> Optional[types.Hover]:
        uri = params.text_document.uri
        state = self._owner(uri)
        buffer = None if state is None else state.buffers.get(uri)
        if state is None or buffer is None:
            return None
        lines = buffer.lines
        at = self.ls.workspace.position_codec.position_from_client_units(lines, params.position)
        under = [f for f in state.findings.get(uri, []) if _contains(f, lines, at.line, at.character)]
        texts = [text for code in dict.fromkeys(f.code for f in under) if (text := explain_markdown(code)) is not None]
        if not texts:
            return None
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n---\n\n".join(texts)),
            range=self._range(lines, _start(under[0]), _end(under[0], lines)),
        )

    def _owner(self, uri: str) -> Optional[ProjectState]:
        root = self.roots.get(uri)
        return None if root is None else self.projects.get(root)

    # --- code actions --------------------------------------------------------------------

    async def code_action(self, params: types.CodeActionParams) -> Optional[List[types.CodeAction]]:
        uri = params.text_document.uri
        state = self._owner(uri)
        buffer = None if state is None else state.buffers.get(uri)
        analysis = None if state is None else state.analysis
        if state is None or buffer is None or analysis is None:
            return None
        if self.ls.workspace.get_text_document(uri).version != buffer.version:
            return None  # the diagnostics are about to be refreshed; edits would land wrong
        lines = buffer.lines
        codec = self.ls.workspace.position_codec
        start = codec.position_from_client_units(lines, params.range.start)
        end = codec.position_from_client_units(lines, params.range.end)
        everything = state.findings.get(uri, [])
        here = [f for f in everything if _overlaps(f, lines, (start.line, start.character), (end.line, end.character))]
        only = params.context.only
        want_quick = only is None or any(types.CodeActionKind.QuickFix.value.startswith(kind) for kind in only)
        want_all = only is None or any(FIX_ALL_KIND.startswith(kind) for kind in only)
        loop = asyncio.get_running_loop()
        actions: List[types.CodeAction] = []
        if want_quick and here:
            fixes = await loop.run_in_executor(self.fixer, self.fixes, analysis, here, True)
            for fix in fixes:
                title = fix.title if fix.safe else f"{fix.title} (unsafe)"
                action = types.CodeAction(
                    title=title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=self._diagnostics_of(analysis, fix.findings, lines),
                    edit=self._workspace_edit(analysis, [fix], buffer),
                    is_preferred=fix.safe or None,
                )
                actions.append(action)
        if want_all and everything:
            fixes = await loop.run_in_executor(self.fixer, self.fixes, analysis, everything, False)
            chosen: List[Fix] = []
            for fix in fixes:
                if fix.safe and not any(_edits_overlap(fix, taken) for taken in chosen):
                    chosen.append(fix)
            if chosen:
                actions.append(
                    types.CodeAction(
                        title="Fix all safely fixable celerylint findings",
                        kind=FIX_ALL_KIND,
                        edit=self._workspace_edit(analysis, chosen, buffer),
                    )
                )
        return actions

    def _diagnostics_of(self, analysis: Analysis, findings: Sequence[Finding], lines: Sequence[str]) -> List[types.Diagnostic]:
        return [self._diagnostic(analysis, finding, lines) for finding in findings]

    def _workspace_edit(self, analysis: Analysis, fixes: Sequence[Fix], buffer: Buffer) -> types.WorkspaceEdit:
        changes: Dict[str, List[types.TextEdit]] = {}
        for fix in fixes:
            path = analysis.root / fix.path
            if path == buffer.path:
                uri, lines = buffer.uri, buffer.lines
            else:
                uri, lines = from_fs_path(str(path)) or "", analysis.source_lines(fix.path) or []
            changes.setdefault(uri, []).extend(self._text_edit(edit, lines) for edit in fix.edits)
        return types.WorkspaceEdit(changes=changes)

    def _text_edit(self, edit: TextEdit, lines: Sequence[str]) -> types.TextEdit:
        start, end = (edit.start_line - 1, edit.start_col), (edit.end_line - 1, edit.end_col)
        return types.TextEdit(range=self._range(lines, start, end), new_text=edit.new_text)


def _path(uri: str) -> Optional[Path]:
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return None if path is None else absolute(Path(path))


def _protocol_streams() -> Tuple[BinaryIO, BinaryIO]:
    """Private copies of stdin and stdout for the protocol; the process's own stdin becomes
    /dev/null and its stdout goes to stderr. A stray print (ours, a library's, a parse worker's)
    cannot corrupt the message stream, and a forked parse worker, which closes sys.stdin as it
    starts, does not wait forever for the lock the protocol's reader thread holds on it."""
    stdin = os.fdopen(os.dup(0), "rb")
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")
    sys.stdout = sys.stderr
    return stdin, stdout


def serve(overrides: Overrides = Overrides(), config_file: Optional[Path] = None, jobs: int = 0, fixes: FixProvider = fixes_for) -> None:
    """Speak LSP on stdin/stdout until the client says exit."""
    logging.basicConfig(level=logging.WARNING, format="celerylint server: %(levelname)s: %(message)s")
    CeleryLintServer(overrides, config_file, jobs, fixes).serve()


