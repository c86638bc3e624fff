"""Command line: argument parsing and exit codes, nothing else."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import List, Optional, Sequence

from celerylint import __version__
from celerylint.config import ConfigError, settings_from
from celerylint.discover import find_root

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="celerylint", description="Find what leaves Celery tasks PENDING, crashing or hanging.")
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders to report on (default: .)")
    parser.add_argument("--select", help="comma-separated codes or prefixes to report")
    parser.add_argument("--ignore", help="comma-separated codes or prefixes to skip")
    parser.add_argument("--format", choices=("text", "json"), help="output format (default: text)")
    parser.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    parser.add_argument("--explain", metavar="CODE", help="explain a rule, with a bad and a good example")
    parser.add_argument("--no-cache", action="store_true", help="parse every file again; do not read or write the cache")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes for parsing (default: all cores)")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--version", action="version", version=f"celerylint {__version__}")
    return parser


def _emit(text: str) -> None:
    """Write to stdout; file names that are not valid UTF-8 come out as their original bytes."""
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    stream.write(text.encode("utf-8", "surrogateescape"))
    stream.flush()


def _list_rules() -> str:
    from celerylint.rules import ALL_RULES

    lines = ["CEL000  syntax-error                   A file that cannot be parsed (reported, the run goes on)."]
    lines += [f"{rule.code}  {rule.name:<30} {rule.summary}" for rule in ALL_RULES]
    return "\n".join(lines) + "\n"


def _explain(code: str) -> str:
    from celerylint.rules import RULES_BY_CODE

    rule = RULES_BY_CODE.get(code.upper())
    if rule is None:
        raise ConfigError(f"unknown rule code {code!r}; see --list-rules")
    return rule.explain()


def _lint(args: argparse.Namespace) -> int:
    from celerylint.engine import rule_names, run_all
    from celerylint.report import format_json, format_text

    paths = args.paths or [Path(".")]
    settings = settings_from(find_root(paths), args.select, args.ignore, args.format, not args.no_cache)
    if settings.output_format not in ("text", "json"):
        raise ConfigError(f"format must be 'text' or 'json', not {settings.output_format!r}")
    results = run_all(paths, settings, args.jobs)
    if settings.output_format == "json":
        _emit(format_json(results, rule_names()))
    else:
        _emit(format_text(results))
    return EXIT_FINDINGS if any(findings for _, findings in results) else EXIT_CLEAN


def _inspect(argv: Sequence[str]) -> int:
    from celerylint.engine import analyse
    from celerylint.inspect_cmd import render

    parser = _Parser(prog="celerylint inspect", description="Show the Celery apps, config, workers and tasks celerylint sees.")
    parser.add_argument("path", nargs="?", type=Path, default=Path("."))
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of internal errors")
    args = parser.parse_args(argv)
    settings = settings_from(find_root([args.path]), None, None, None)
    analysis = analyse([args.path], settings)
    _emit(render(analysis.project))
    return EXIT_CLEAN


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    try:
        if argv and argv[0] == "inspect":
            return _inspect(argv[1:])
        args = _parser().parse_args(argv)
        if args.list_rules:
            sys.stdout.write(_list_rules())
            return EXIT_CLEAN
        if args.explain:
            sys.stdout.write(_explain(args.explain))
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
