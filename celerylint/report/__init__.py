"""Formatters: findings in, text out. One function per --format."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape, quoteattr

from celerylint import __version__
from celerylint.rules import Finding

DOCS_URL = "https://github.com/celerylint/celerylint/blob/main/docs/rules.md"
Results = Sequence[Tuple[Any, List[Finding]]]  # (analysis: .root and .source_lines, findings) per project


def display_path(root: Path, rel: str) -> str:
    """The finding's path relative to the current directory, as flake8 prints it."""
    absolute = root / rel
    try:
        return os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        return str(absolute)


def _each(results: Results):  # type: ignore[no-untyped-def]
    for analysis, findings in results:
        for finding in findings:
            yield analysis, finding


class Style:
    """ANSI colour, or none (a pipe, NO_COLOR, a file)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text


def format_text(results: Results, show_source: bool = False, color: bool = False) -> str:
    style = Style(color)
    out = []
    for analysis, f in _each(results):
        location = style(display_path(analysis.root, f.path), "1") + f":{f.line}:{f.col}:"
        out.append(f"{location} {style(f.code, '1;31')} {f.message}\n")
        if show_source:
            lines = analysis.source_lines(f.path) or []
            if 0 < f.line <= len(lines):
                source = lines[f.line - 1].expandtabs(1)
                out.append(f"    {source}\n    {' ' * (f.col - 1)}{style('^', '1;31')}\n")
    return "".join(out)


def format_statistics(results: Results, names: Dict[str, str]) -> str:
    counts = Counter(f.code for _, f in _each(results))
    return "".join(f"{count:<5} {code} {names.get(code, '')}\n" for code, count in sorted(counts.items()))


def format_json(results: Results, names: Dict[str, str]) -> str:
    items = [
        {
            "path": display_path(analysis.root, f.path),
            "line": f.line,
            "column": f.col,
            "end_line": f.end_line or f.line,
            "end_column": f.end_col or f.col,
            "code": f.code,
            "name": names.get(f.code, ""),
            "message": f.message,
        }
        for analysis, f in _each(results)
    ]
    return json.dumps(items, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(results: Results) -> str:
    """GitHub Actions workflow commands: annotations on the pull request."""
    out = []
    for analysis, f in _each(results):
        props = ",".join(
            [
                f"file={_escape_property(display_path(analysis.root, f.path))}",
                f"line={f.line}",
                f"col={f.col}",
                f"endLine={f.end_line or f.line}",
                f"endColumn={f.end_col or f.col}",
                f"title={_escape_property(f.code)}",
            ]
        )
        out.append(f"::error {props}::{_escape_data(f.code + ' ' + f.message)}\n")
    return "".join(out)


def format_junit(results: Results) -> str:
    """JUnit XML: one test suite per file with findings, one failing test case per finding."""
    by_file: Dict[str, List[Tuple[str, Finding]]] = {}
    for analysis, f in _each(results):
        by_file.setdefault(display_path(analysis.root, f.path), []).append((analysis, f))
    total = sum(len(items) for items in by_file.values())
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<testsuites name="celerylint" tests="{max(total, 1)}" failures="{total}">\n']
    if not by_file:
        out.append('  <testsuite name="celerylint" tests="1" failures="0">\n    <testcase name="no findings" classname="celerylint"/>\n  </testsuite>\n')
    for path, items in sorted(by_file.items()):
        out.append(f"  <testsuite name={quoteattr(path)} tests=\"{len(items)}\" failures=\"{len(items)}\">\n")
        for _, f in items:
            name = quoteattr(f"{path}:{f.line}:{f.col} {f.code}")
            out.append(f"    <testcase name={name} classname={quoteattr(path)}>\n")
            out.append(f"      <failure type={quoteattr(f.code)} message={quoteattr(f.message)}>{escape(f'{path}:{f.line}:{f.col}: {f.code} {f.message}')}</failure>\n")
            out.append("    </testcase>\n")
        out.append("  </testsuite>\n")
    out.append("</testsuites>\n")
    return "".join(out)


def format_sarif(results: Results) -> str:
    """SARIF 2.1.0, as GitHub code scanning accepts it."""
    from celerylint.rules import ALL_RULES, SYNTAX_ERROR_CODE

    descriptors = [
        {
            "id": SYNTAX_ERROR_CODE,
            "name": "syntax-error",
            "shortDescription": {"text": "A file that cannot be parsed."},
            "fullDescription": {"text": "The file does not parse, so celerylint could not analyse it."},
            "help": {"text": "Fix the syntax error.", "markdown": "Fix the syntax error."},
            "helpUri": f"{DOCS_URL}#cel000-syntax-error",
            "defaultConfiguration": {"level": "error"},
        }
    ]
    for rule in ALL_RULES:
        descriptors.append(
            {
                "id": rule.code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.what},
                "help": {"text": f"{rule.why}\n\n{rule.fix}", "markdown": rule.explain()},
                "helpUri": f"{DOCS_URL}#{rule.code.lower()}-{rule.name}",
                "defaultConfiguration": {"level": "error"},
            }
        )
    index = {descriptor["id"]: position for position, descriptor in enumerate(descriptors)}
    sarif_results = []
    for analysis, f in _each(results):
        sarif_results.append(
            {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": "error",
                "message": {"text": f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": Path(display_path(analysis.root, f.path)).as_posix()},
                            "region": {
                                "startLine": f.line,
                                "startColumn": f.col,
                                "endLine": max(f.end_line or f.line, f.line),
                                "endColumn": max(f.end_col or f.col, 1),
                            },
                        }
                    }
                ],
            }
        )
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "celerylint",
                        "version": __version__,
                        "informationUri": DOCS_URL,
                        "rules": descriptors,
                    }
                },
                "results": sarif_results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def render(results: Results, output_format: str, names: Dict[str, str], show_source: bool, color: bool) -> str:
    formatters: Dict[str, Callable[[], str]] = {
        "text": lambda: format_text(results, show_source, color),
        "json": lambda: format_json(results, names),
        "sarif": lambda: format_sarif(results),
        "github": lambda: format_github(results),
        "junit": lambda: format_junit(results),
    }
    return formatters[output_format]()


def use_color(stream: Any, output_file: Optional[Path]) -> bool:
    if output_file is not None or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
