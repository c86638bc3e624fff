"""Formatters: findings in, text out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from celerylint.rules import Finding


def display_path(root: Path, rel: str) -> str:
    """The finding's path relative to the current directory, as flake8 prints it."""
    absolute = root / rel
    try:
        return os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        return str(absolute)


Results = Sequence[Tuple[Any, List[Finding]]]  # (analysis with .root, findings) per project


def format_text(results: Results) -> str:
    return "".join(
        f"{display_path(analysis.root, f.path)}:{f.line}:{f.col}: {f.code} {f.message}\n"
        for analysis, findings in results
        for f in findings
    )


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
        for analysis, findings in results
        for f in findings
    ]
    return json.dumps(items, indent=2) + "\n"
