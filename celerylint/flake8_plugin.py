"""flake8 plugin: celerylint's findings for each file flake8 checks (code prefix CEL).

celerylint needs the whole project to judge one file, so the plugin analyses the project
around the file once per flake8 process (from celerylint's facts cache when warm) and reports
that file's findings. flake8 applies its own `# noqa`, --select and --extend-ignore on top.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from celerylint import __version__

Report = Tuple[int, int, str, type]
ByPath = Dict[str, List[Tuple[int, int, str]]]


@lru_cache(maxsize=8)
def _project_findings(root: str) -> ByPath:
    """Findings by absolute path for a whole project, computed once per flake8 process."""
    return _findings(Path(root), {})


def _findings(root: Path, overrides: Dict[Path, bytes]) -> ByPath:
    from celerylint.config import Overrides, settings_from
    from celerylint.discover import absolute
    from celerylint.engine import run_all

    def settings_for(project: Path) -> Any:
        return settings_from(project, Overrides(disable_noqa=True))

    by_path: ByPath = {}
    for analysis, findings in run_all([root, *overrides], settings_for, 1, overrides).projects:
        for finding in findings:
            path = str(absolute(analysis.root / finding.path))
            by_path.setdefault(path, []).append((finding.line, finding.col, f"{finding.code} {finding.message}"))
    return by_path


def _same_text(on_disk: bytes, lines: Sequence[str]) -> bool:
    """flake8 hands over decoded lines (BOM dropped, newlines made \\n): compare like with like,
    so a CRLF or BOM file does not look like an unsaved buffer and re-analyse the project."""
    text = on_disk.decode("utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return text == "".join(lines).replace("\r\n", "\n")


class CeleryLintPlugin:
    name = "celerylint"
    version = __version__

    def __init__(self, tree: Any, filename: str, lines: Optional[Sequence[str]] = None) -> None:
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[Report]:
        from celerylint.config import ConfigError
        from celerylint.discover import absolute, project_root

        if self.filename in ("stdin", "-") or not self.filename.endswith(".py"):
            return
        path = absolute(Path(self.filename))
        root = project_root(path)
        try:
            on_disk = path.read_bytes() if path.is_file() else None
            if self.lines is not None and (on_disk is None or not _same_text(on_disk, self.lines)):
                content = "".join(self.lines).encode("utf-8")
                findings = _findings(root, {path: content})  # unsaved editor content
            else:
                findings = _project_findings(str(root))
        except ConfigError as error:
            yield 1, 0, f"CEL000 celerylint configuration error: {error}", type(self)
            return
        for line, col, text in findings.get(str(path), ()):
            yield line, max(col - 1, 0), text, type(self)
