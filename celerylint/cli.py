"""Command line: argument parsing and exit codes, nothing else."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence

from celerylint import __version__
from celerylint.config import FORMATS, ConfigError, Overrides, Settings, settings_from
from celerylint.discover import absolute, project_root

if TYPE_CHECKING:
    from celerylint.runplan import RunPlan

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="celerylint", description="Find what leaves Celery tasks PENDING, crashing or hanging.")
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders to report on (default: .); - reads stdin")
    select = parser.add_argument_group("rule selection")
    select.add_argument("--select", help="comma-separated codes or prefixes to report (default: all)")
    select.add_argument("--extend-select", help="codes or prefixes to add to the selection")
    select.add_argument("--ignore", help="comma-separated codes or prefixes to skip")
    select.add_argument("--per-file-ignores", help="space-separated GLOB:CODES pairs")
    select.add_argument("--disable-noqa", action="store_true", help="report findings on `# noqa` lines too")
    files = parser.add_argument_group("files")
    files.add_argument("--config", type=Path, help="a TOML file to read instead of pyproject.toml")
    files.add_argument("--exclude", help="comma-separated gitignore-style patterns (replaces the defaults)")
    files.add_argument("--extend-exclude", help="patterns to exclude in addition to the defaults")
    files.add_argument("--respect-gitignore", dest="respect_gitignore", action="store_true", default=None)
    files.add_argument("--no-respect-gitignore", dest="respect_gitignore", action="store_false")
    files.add_argument("--force-exclude", action="store_true", help="exclude named files too (for pre-commit)")
    files.add_argument("--stdin-filename", type=Path, help="with `-`: the path of the file read from stdin")
    output = parser.add_argument_group("output")
    output.add_argument(
        "--output-format",
        "--format",
        dest="format",
        choices=FORMATS,
        help="output format (default: text; concise is text; full adds the source line, the fix and the related locations)",
    )
    output.add_argument("--output-file", type=Path, help="write the report to this file")
    output.add_argument("--show-source", action="store_true", help="show the offending line with a caret")
    output.add_argument("--statistics", action="store_true", help="print the number of findings per code")
    output.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    fixing = parser.add_argument_group("fixes")
    fixing.add_argument("--fix", action="store_true", help="apply the safe fixes to the files, then report what is left")
    fixing.add_argument("--diff", action="store_true", help="print the safe fixes as a unified diff; change nothing (exit 1 if any)")
    fixing.add_argument("--unsafe-fixes", action="store_true", help="with --fix or --diff: apply the unsafe fixes too")
    output.add_argument("-q", "--quiet", action="store_true", help="print the findings only: no statistics, no warnings")
    other = parser.add_argument_group("other")
    other.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    other.add_argument("--explain", metavar="CODE", help="explain a rule, with a bad and a good example")
    other.add_argument("--show-files", action="store_true", help="list the files each project would analyse and exit")
    other.add_argument("--show-settings", action="store_true", help="show each project's settings and where they come from, and exit")
    other.add_argument("--no-cache", action="store_true", help="parse every file again; do not read or write the cache")
    other.add_argument("--cache-dir", type=Path, help="where to keep the cache (default: $XDG_CACHE_HOME/celerylint)")
    other.add_argument("--jobs", type=int, default=0, help="worker processes for parsing (default: all cores)")
    other.add_argument("--verbose", action="store_true", help="show tracebacks of internal errors")
    other.add_argument("--version", action="version", version=f"celerylint {__version__}")
    return parser


def _emit(text: str, output_file: Optional[Path] = None) -> None:
    """Write the report; file names that are not valid UTF-8 come out as their original bytes."""
    data = text.encode("utf-8", "surrogateescape")
    if output_file is not None:
        try:
            output_file.write_bytes(data)
        except OSError as error:
            raise ConfigError(f"{output_file}: cannot write: {error.strerror or error}") from None
        return
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    stream.write(data)
    stream.flush()


def _list_rules() -> str:
    from celerylint.rules import ALL_RULES

    # The fix column: "safe" (--fix), "unsafe" (--fix --unsafe-fixes), blank: none.
    lines = [f"{rule.code}  {rule.name:<30} {rule.autofix:<6} {rule.summary}" for rule in ALL_RULES]
    return "\n".join(lines) + "\n"


def _explain(code: str) -> str:
    from celerylint.rules import RULES_BY_CODE

    rule = RULES_BY_CODE.get(code.upper())
    if rule is None:
        raise ConfigError(f"unknown rule code {code!r}; see --list-rules")
    return rule.explain()


def _overrides(args: argparse.Namespace) -> Overrides:
    return Overrides(
        select=args.select,
        ignore=args.ignore,
        extend_select=args.extend_select,
        per_file_ignores=args.per_file_ignores,
        exclude=args.exclude,
        extend_exclude=args.extend_exclude,
        respect_gitignore=args.respect_gitignore,
        output_format=args.format,
        use_cache=not args.no_cache,
        cache_dir=args.cache_dir,
        disable_noqa=args.disable_noqa,
        force_exclude=args.force_exclude,
    )


def _settings_for(overrides: Overrides, config_file: Optional[Path]) -> Callable[[Path], Settings]:
    """Each project reads its own [tool.celerylint] (or the one --config names)."""
    cache: Dict[Path, Settings] = {}

    def settings_for(root: Path) -> Settings:
        if root not in cache:
            cache[root] = settings_from(root, overrides, config_file)
        return cache[root]

    return settings_for


def _notify(notices: Sequence[str], quiet: bool = False) -> None:
    from celerylint.report import printable

    for notice in () if quiet else notices:
        print(f"celerylint: warning: {printable(notice)}", file=sys.stderr)


def _lint(args: argparse.Namespace) -> int:
    from celerylint import results_cache
    from celerylint.codes import RULE_NAMES
    from celerylint.report import HUMAN_FORMATS, Results, format_statistics, render, use_color
    from celerylint.runplan import plan_run

    paths: List[Path] = args.paths or [Path(".")]
    overrides = {}
    if [str(p) for p in paths] == ["-"]:
        if args.stdin_filename is None:
            raise ConfigError("reading from stdin (`-`) needs --stdin-filename PATH")
        paths = [args.stdin_filename]
        overrides = {absolute(args.stdin_filename): sys.stdin.buffer.read()}
    elif args.stdin_filename is not None:
        raise ConfigError("--stdin-filename goes with `-` as the only path")
    settings_for = _settings_for(_overrides(args), args.config)
    if args.fix or args.diff:
        return _fix(args, paths, settings_for, overrides)
    if args.unsafe_fixes:
        raise ConfigError("--unsafe-fixes goes with --fix or --diff")
    if args.show_files or args.show_settings:
        run_plan = plan_run(paths, settings_for, overrides)
        _notify(run_plan.notices, args.quiet)
        shown = _show_files(run_plan) if args.show_files else _show_settings(run_plan, _overrides(args), args.config)
        _emit(shown, args.output_file)
        return EXIT_CLEAN
    # Run-wide options (the output format) come from the flags, else from the project of the
    # current folder: the same whatever the order of the paths.
    output_format = settings_for(project_root(Path.cwd())).output_format
    run_plan = plan_run(paths, settings_for, overrides)
    unsaved_python = any(path.suffix == ".py" for path in overrides)
    if not args.quiet and not unsaved_python and not any(project.files.python for project in run_plan.projects):
        _notify([f"no Python file found in {' '.join(str(path) for path in paths)}"])
    # Nothing the answer depends on changed: print it without parsing or modelling anything.
    stats = {} if overrides else results_cache.file_stats(run_plan)
    key = None if overrides else results_cache.run_key(run_plan, paths, stats)
    stored = None if key is None else results_cache.load(run_plan, paths, key)
    projects: Results
    if stored is not None:
        projects, notices, has_findings = stored.projects, stored.notices, stored.has_findings
    else:
        from celerylint.engine import run_all
        from celerylint.progress import progress_line

        progress = progress_line(sys.stderr, args.quiet)
        try:
            result = run_all(paths, settings_for, args.jobs, overrides, run_plan, progress, stats)
        finally:
            if progress is not None:
                progress.clear()
        if key is not None:
            results_cache.store(run_plan, paths, key, [(analysis.root, found) for analysis, found in result.projects], result.notices)
        projects, notices, has_findings = result.projects, result.notices, result.has_findings
    _notify(notices, args.quiet)
    names = dict(RULE_NAMES)
    color = output_format in HUMAN_FORMATS and use_color(sys.stdout, args.output_file)
    report = render(projects, output_format, names, args.show_source, color)
    statistics = format_statistics(projects, names) if args.statistics and not args.quiet else ""
    if output_format in HUMAN_FORMATS:
        report += statistics
    elif statistics:
        sys.stderr.write(statistics)  # a machine-readable document stays one document
    _emit(report, args.output_file)
    return EXIT_FINDINGS if has_findings and not args.exit_zero else EXIT_CLEAN


def _fix(args: argparse.Namespace, paths: List[Path], settings_for: Callable[[Path], Settings], overrides: Dict[Path, bytes]) -> int:
    """--fix / --diff: fix in memory until stable, then write the files (or print the diff,
    or with stdin print the fixed source), and report what is left."""
    from celerylint.codes import RULE_NAMES
    from celerylint.fixes.apply import fix_run, unified_diff, write_files
    from celerylint.report import HUMAN_FORMATS, display_path, printable, render, use_color

    stdin = bool(overrides)
    outcome = fix_run(paths, settings_for, args.jobs, overrides, args.unsafe_fixes)
    _notify(outcome.result.notices + outcome.notices, args.quiet)
    if not args.quiet:
        for analysis, item in outcome.unfixed:
            f = item.finding
            where = display_path(analysis.root, f.path)
            print(f"celerylint: {printable(where)}:{f.line}:{f.col}: {f.code} not fixed: {printable(item.why)}", file=sys.stderr)
    remaining = sum(len(findings) for _, findings in outcome.result.projects)
    hint = ""
    if outcome.hidden:
        hint = f" ({outcome.hidden} hidden fix{'es' * (outcome.hidden != 1)} can be enabled with the `--unsafe-fixes` option)"
    if args.diff:
        _emit("".join(unified_diff(outcome.before[path], outcome.after[path], display_path(path, ".")) for path in sorted(outcome.after)))
        if not args.quiet:
            would = f"Would fix {outcome.fixed} error{'s' * (outcome.fixed != 1)}." if outcome.after else "No errors would be fixed."
            print(would + hint, file=sys.stderr)
        return EXIT_FINDINGS if outcome.after and not args.exit_zero else EXIT_CLEAN
    if stdin:
        path = next(iter(overrides))
        text = outcome.after.get(path)
        _emit(text if text is not None else overrides[path].decode("utf-8", "surrogateescape"))
    else:
        errors = write_files(outcome.after)
        if errors:
            raise ConfigError("; ".join(errors))
    names = dict(RULE_NAMES)
    output_format = settings_for(project_root(Path.cwd())).output_format
    color = not stdin and output_format in HUMAN_FORMATS and use_color(sys.stdout, args.output_file)
    report = render(outcome.result.projects, output_format, names, args.show_source, color)
    if stdin:
        if not args.quiet:
            sys.stderr.write(report)
    else:
        _emit(report, args.output_file)
    if not args.quiet:
        total = outcome.fixed + remaining
        print(f"Found {total} error{'s' * (total != 1)} ({outcome.fixed} fixed, {remaining} remaining).{hint}", file=sys.stderr)
    return EXIT_FINDINGS if remaining and not args.exit_zero else EXIT_CLEAN


def _show_files(run_plan: "RunPlan") -> str:
    """Each file a run would analyse, with the root of its project (relative to the current folder)."""
    from celerylint.report import display_path

    out = []
    for project in run_plan.projects:
        root = display_path(project.root, ".")
        for path in sorted(project.files.python + project.files.deploy):
            out.append(f"{display_path(path, '.')}  (project {root})\n")
    return "".join(out)


def _show_settings(run_plan: "RunPlan", overrides: Overrides, config_file: Optional[Path]) -> str:
    """Each project's resolved settings, as TOML keys, each with where it came from."""
    from celerylint.config import SOURCES, setting_sources
    from celerylint.discover import DEFAULT_EXCLUDES
    from celerylint.report import display_path, printable

    out = []
    for project in run_plan.projects:
        out.append(f"[{display_path(project.root, '.')}]\n")
        sources = setting_sources(project.root, overrides, config_file)
        for field, (key, _, _) in SOURCES.items():
            value = getattr(project.settings, field)
            if field == "exclude" and value is None:
                value = DEFAULT_EXCLUDES
            name = key or field.replace("_", "-")
            out.append(f"{name} = {printable(_toml_value(value))}  # {printable(sources[field])}\n")
        out.append("\n")
    return "".join(out)


def _toml_value(value: object) -> str:
    if value is None:
        return '"default"'
    if isinstance(value, tuple) and value and all(isinstance(item, tuple) for item in value):
        return "{" + ", ".join(f"{json.dumps(glob)} = {_toml_value(codes)}" for glob, codes in value) + "}"
    if isinstance(value, tuple):
        return "[" + ", ".join(json.dumps(item) for item in value) + "]"
    if isinstance(value, Path):
        return json.dumps(str(value))
    return json.dumps(value)


def _inspect(argv: Sequence[str]) -> int:
    from celerylint.engine import analyse_all
    from celerylint.inspect_cmd import find_task, render_json, render_text, render_why
    from celerylint.progress import progress_line

    parser = _Parser(prog="celerylint inspect", description="Show the Celery apps, config, workers and tasks celerylint sees.")
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders whose projects to show (default: .)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument("--why", metavar="TASK", help="walk the PENDING checklist for one task (registered name or module.function)")
    parser.add_argument("--config", type=Path, help="a TOML file to read instead of pyproject.toml")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of internal errors")
    args = parser.parse_args(argv)
    settings_for = _settings_for(Overrides(), args.config)
    progress = progress_line(sys.stderr, quiet=False)
    try:
        analysed = analyse_all(args.paths or [Path(".")], settings_for, progress=progress)
    finally:
        if progress is not None:
            progress.clear()
    _notify(analysed.notices)
    if args.why:
        found = [(analysis.project, task) for analysis, _ in analysed.projects if (task := find_task(analysis.project, args.why))]
        if not found:
            raise ConfigError(f"no task named {args.why!r} (a registered name or module.function); see `celerylint inspect`")
        _emit("".join(render_why(project, task) for project, task in found))
        return EXIT_CLEAN
    render = render_json if args.format == "json" else render_text
    _emit(render([(analysis.root, analysis.project) for analysis, _ in analysed.projects], Path.cwd()))
    return EXIT_CLEAN


# The modules the `lsp` extra installs: without them `celerylint server` explains what to install.
LSP_MODULES = ("pygls", "lsprotocol", "cattrs")


def _server(argv: Sequence[str]) -> int:
    parser = _Parser(prog="celerylint server", description="Speak the Language Server Protocol on stdin/stdout, for editors.")
    parser.add_argument("--config", type=Path, help="a TOML file to read instead of pyproject.toml")
    parser.add_argument("--no-cache", action="store_true", help="parse every file again; do not read or write the cache")
    parser.add_argument("--cache-dir", type=Path, help="where to keep the cache (default: $XDG_CACHE_HOME/celerylint)")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes for a first parse (default: all cores)")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of internal errors")
    args = parser.parse_args(argv)
    # A long-lived process (main() turned the collector off for one-shot runs): collect cycles,
    # and the server freezes its warm facts out of the collector's way after the first analysis.
    gc.enable()
    try:
        from celerylint.server import serve
    except ImportError as error:
        if (error.name or "").split(".")[0] not in LSP_MODULES:
            raise
        raise ConfigError("`celerylint server` needs pygls: install celerylint[lsp] (pip install 'celerylint[lsp]')") from None
    serve(Overrides(use_cache=not args.no_cache, cache_dir=args.cache_dir), args.config, args.jobs)
    return EXIT_CLEAN


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # A short-lived process that builds millions of small acyclic objects (facts, model):
    # the cyclic collector would rescan them all again and again (a third of a one-file run)
    # and free almost nothing. Reference counting still frees everything as usual.
    gc.disable()
    verbose = "--verbose" in argv
    try:
        if argv and argv[0] == "inspect":
            return _inspect(argv[1:])
        if argv and argv[0] == "server":
            return _server(argv[1:])
        args = _parser().parse_args(argv)
        if args.list_rules:
            _emit(_list_rules())
            return EXIT_CLEAN
        if args.explain:
            _emit(_explain(args.explain))
            return EXIT_CLEAN
        return _lint(args)
    except ConfigError as error:
        print(f"celerylint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as error:  # noqa: BLE001 - never a traceback by default
        if verbose:
            traceback.print_exc()
        print(
            f"celerylint: internal error: {type(error).__name__}: {error} "
            "(please report it with the file that caused it; --verbose shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def run() -> None:
    """The `celerylint` command: main(), then exit without tearing the heap down. Freeing a
    project's facts and model object by object at interpreter exit took a third of a one-file
    run; the operating system reclaims it all at once (as mypy does)."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)

