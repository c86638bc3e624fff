"""flake8 plugin: celerylint's findings for each file flake8 checks (code prefix CEL).

celerylint needs the whole project to judge one file, so the plugin analyses the project
around the file (from celerylint's facts cache when warm) and reports that file's findings.
flake8 applies its own `# noqa`, --select and --extend-ignore on top.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from celerylint import __version__

Report = Tuple[int, int, str, type]


@lru_cache(maxsize=8)
def _project_findings(root: str) -> Dict[str, List[Tuple[int, int, str]]]:
    """Findings by absolute path for a whole project, computed once per flake8 process."""
    return _findings(Path(root), {})


def _findings(root: Path, overrides: Dict[Path, bytes]) -> Dict[str, List[Tuple[int, int, str]]]:
    from celerylint.config import Overrides, settings_from
    from celerylint.engine import run_all

    settings = settings_from(root, Overrides(disable_noqa=True))
    by_path: Dict[str, List[Tuple[int, int, str]]] = {}
    for analysis, findings in run_all([root, *overrides], settings, 1, overrides):
        for finding in findings:
            path = str((analysis.root / finding.path).resolve())
            by_path.setdefault(path, []).append((finding.line, finding.col, f"{finding.code} {finding.message}"))
    return by_path


class CeleryLintPlugin:
    name = "celerylint"
    version = __version__

    def __init__(self, tree: Any, filename: str, lines: Optional[Sequence[str]] = None) -> None:
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[Report]:
        from celerylint.config import ConfigError
        from celerylint.discover import find_root

        path = Path(self.filename).resolve()
        if self.filename in ("stdin", "-") or not path.suffix == ".py":
            return
        root = find_root([path])
        content = "".join(self.lines).encode("utf-8") if self.lines is not None else None
        try:
            if content is not None and path.is_file() and path.read_bytes() != content:
                findings = _findings(root, {path: content})  # unsaved editor content
            else:
                findings = _project_findings(str(root))
        except ConfigError as error:
            yield 1, 0, f"CEL000 celerylint configuration error: {error}", type(self)
            return
        for line, col, text in findings.get(str(path), ()):
            yield line, max(col - 1, 0), text, type(self)
