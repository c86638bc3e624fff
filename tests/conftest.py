from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def write_project(root: Path, files: Dict[str, str]) -> Path:
    """A throwaway project: files by relative path, plus a pyproject.toml root marker."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(files.pop("pyproject.toml", '[project]\nname = "t"\n'))
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def project(tmp_path: Path):
    def make(files: Dict[str, str]) -> Path:
        return write_project(tmp_path, dict(files))

    return make


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or write the user's cache."""
    monkeypatch.setenv("CELERYLINT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
