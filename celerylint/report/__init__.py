"""Formatters: findings in, text out. One function per --format."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from celerylint import __version__
from celerylint.findings import Finding, Related

DOCS_URL = "https://github.com/celerylint/celerylint/blob/main/docs/rules.md"
Results = Sequence[Tuple[Any, List[Finding]]]  # (analysis: .root and .source_lines, findings) per project


# C0 and C1 control characters (newlines, ESC...), which could forge lines or drive a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text with control characters written as escapes: a file named `x\nProcfile:1:1: CEL001`
    must not print a second finding, and an ESC in a task name must not reach the terminal."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def display_path(root: Path, rel: str) -> str:
    """The finding's path relative to the current directory, as flake8 prints it."""
    absolute = root / rel
    try:
        shown = os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        shown = str(absolute)
    return printable(shown)


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


def _source(analysis: Any, f: Finding, style: Style, indent: str) -> str:
    """The reported line, with a caret under the column."""
    lines = analysis.source_lines(f.path) or []
    if not 0 < f.line <= len(lines):
        return ""
    source = printable(lines[f.line - 1].expandtabs(1))
    return f"{indent}{source}\n{indent}{' ' * (f.col - 1)}{style('^', '1;31')}\n"


def _details(analysis: Any, f: Finding, style: Style, indent: str) -> str:
    """What `full` adds below the source: how to fix it, and the evidence elsewhere."""
    out = []
    if f.fix_hint:
        out.append(f"{indent}{style('help', '1;36')}: {printable(f.fix_hint)}\n")
    for item in f.related:
        where = f"{display_path(analysis.root, item.path)}:{item.line}:{item.col}:"
        out.append(f"{indent}{style('note', '1;34')}: {where} {printable(item.message)}\n")
    return "".join(out)


def format_text(results: Results, show_source: bool = False, color: bool = False, full: bool = False) -> str:
    """flake8's `path:line:col: CODE message`; `full` adds the source with a caret, the fix
    (help:) and the related locations (note:), and a blank line after each finding."""
    style = Style(color)
    out = []
    for analysis, f in _each(results):
        location = style(display_path(analysis.root, f.path), "1") + f":{f.line}:{f.col}:"
        out.append(f"{location} {style(f.code, '1;31')} {printable(f.message)}\n")
        if show_source or full:
            out.append(_source(analysis, f, style, "    "))
        if full:
            out.append(_details(analysis, f, style, "    ") + "\n")
    return "".join(out)


def format_statistics(results: Results, names: Dict[str, str]) -> str:
    counts = Counter(f.code for _, f in _each(results))
    return "".join(f"{count:<5} {code} {names.get(code, '')}\n" for code, count in sorted(counts.items()))


def format_grouped(results: Results, show_source: bool = False, color: bool = False) -> str:
    """As ruff's grouped format: each file's name once, its findings indented below it."""
    style = Style(color)
    by_file: Dict[str, List[Tuple[Any, Finding]]] = {}
    for analysis, f in _each(results):
        by_file.setdefault(display_path(analysis.root, f.path), []).append((analysis, f))
    out = []
    for path, items in by_file.items():
        out.append(f"{style(path, '1')}:\n")
        width = max(len(f"{f.line}:{f.col}") for _, f in items)
        for analysis, f in items:
            out.append(f"  {f'{f.line}:{f.col}':<{width}} {style(f.code, '1;31')} {printable(f.message)}\n")
            if show_source:
                out.append(_source(analysis, f, style, "      "))
        out.append("\n")
    return "".join(out)


def format_pylint(results: Results) -> str:
    """As pylint's parseable format (ruff's `pylint`): `path:line: [CODE] message`."""
    return "".join(f"{display_path(analysis.root, f.path)}:{f.line}: [{f.code}] {printable(f.message)}\n" for analysis, f in _each(results))


def format_json(results: Results, names: Dict[str, str]) -> str:
    return json.dumps(_json_items(results, names), indent=2) + "\n"


def format_json_lines(results: Results, names: Dict[str, str]) -> str:
    """One JSON object per finding, one per line (ruff's json-lines)."""
    return "".join(json.dumps(item) + "\n" for item in _json_items(results, names))


def _json_items(results: Results, names: Dict[str, str]) -> List[Dict[str, Any]]:
    return [
        {
            "path": display_path(analysis.root, f.path),
            "line": f.line,
            "column": f.col,
            "end_line": f.end_line or f.line,
            "end_column": f.end_col or f.col,
            "code": f.code,
            "name": names.get(f.code, ""),
            "message": f.message,
            "help": f.fix_hint,  # ruff's `fix` is an applicable edit: this is advice, so another name
            "related": [
                {"path": display_path(analysis.root, r.path), "line": r.line, "column": r.col, "message": r.message}
                for r in f.related
            ],
        }
        for analysis, f in _each(results)
    ]


def _escape_data(text: str) -> str:
    # GitHub's own escapes for %, CR and LF; any other control character as a visible escape.
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


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


def _xml_text(text: str) -> str:
    """XML 1.0 allows no control character but TAB, LF and CR, escaped or not."""
    return printable(text)


def format_junit(results: Results) -> str:
    """JUnit XML: one test suite per file with findings, one failing test case per finding."""
    from xml.sax.saxutils import escape, quoteattr  # 6 ms to import, for this format alone

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
            message = _xml_text(f.message)
            out.append(f"      <failure type={quoteattr(f.code)} message={quoteattr(message)}>{escape(f'{path}:{f.line}:{f.col}: {f.code} {message}')}</failure>\n")
            out.append("    </testcase>\n")
        out.append("  </testsuite>\n")
    out.append("</testsuites>\n")
    return "".join(out)


def _sarif_related(root: Path, number: int, item: Related) -> Dict[str, Any]:
    return {
        "id": number,
        "message": {"text": item.message},
        "physicalLocation": {
            "artifactLocation": {"uri": Path(display_path(root, item.path)).as_posix()},
            "region": {"startLine": max(item.line, 1), "startColumn": max(item.col, 1)},
        },
    }


def _sarif_message(f: Finding) -> str:
    """The message, then how to fix it: code scanning shows the text whole on the alert."""
    return f"{f.message}. {f.fix_hint}" if f.fix_hint else f.message


def format_gitlab(results: Results) -> str:
    """GitLab's Code Quality report, as ruff's `gitlab` format writes it: one issue per finding,
    each with a fingerprint that stays the same while the finding does (code, file, message:
    not its line, so an edit above it does not make it new) and differs between its repeats."""
    from hashlib import sha256  # for this format alone (hashlib loads OpenSSL)

    issues: List[Dict[str, Any]] = []
    seen: Counter[str] = Counter()
    for analysis, f in _each(results):
        path = Path(display_path(analysis.root, f.path)).as_posix()
        identity = f"{f.code}\0{path}\0{f.message}"
        seen[identity] += 1
        fingerprint = sha256(f"{identity}\0{seen[identity]}".encode("utf-8", "surrogateescape")).hexdigest()
        issues.append(
            {
                "description": f.message,
                "check_name": f.code,
                "fingerprint": fingerprint,
                "severity": "major",
                "location": {"path": path, "lines": {"begin": f.line, "end": max(f.end_line or f.line, f.line)}},
            }
        )
    return json.dumps(issues, indent=2) + "\n"


def format_sarif(results: Results) -> str:
    """SARIF 2.1.0, as GitHub code scanning accepts it."""
    from celerylint.rules import ALL_RULES

    descriptors: List[Dict[str, Any]] = []
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
                "message": {"text": _sarif_message(f)},
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
                "relatedLocations": [_sarif_related(analysis.root, number, item) for number, item in enumerate(f.related)],
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


# Formats written for people: colour when a terminal reads them, statistics at their end.
HUMAN_FORMATS = ("text", "concise", "full", "grouped")


def render(results: Results, output_format: str, names: Dict[str, str], show_source: bool, color: bool) -> str:
    formatters: Dict[str, Callable[[], str]] = {
        "text": lambda: format_text(results, show_source, color),
        "concise": lambda: format_text(results, show_source, color),
        "full": lambda: format_text(results, True, color, full=True),
        "grouped": lambda: format_grouped(results, show_source, color),
        "pylint": lambda: format_pylint(results),
        "json": lambda: format_json(results, names),
        "json-lines": lambda: format_json_lines(results, names),
        "sarif": lambda: format_sarif(results),
        "github": lambda: format_github(results),
        "gitlab": lambda: format_gitlab(results),
        "junit": lambda: format_junit(results),
    }
    return formatters[output_format]()


def use_color(stream: Any, output_file: Optional[Path]) -> bool:
    if output_file is not None or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
