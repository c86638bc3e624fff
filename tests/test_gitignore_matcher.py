"""The walk's combined gitignore matcher answers exactly as pathspec's GitIgnoreSpec."""

from __future__ import annotations

import itertools

import pathspec
import pytest

from celerylint.discover import DEFAULT_EXCLUDES, GitIgnoreMatcher

PATTERNS = [
    "*.pyc", "__pycache__/", "/build", "dist/", "docs/_build", "**/migrations/*.py", "a/**/b", "*.egg-info/",
    "node_modules", "!keep.py", "local_settings.py", "/src/gen/*", "\\#literal", "[Tt]emp/", "?.py", "x/", "",
    "# a comment", "logs/**", "*.log", "!important.log", "foo/*/bar.py", " trailing ",
]
PATHS = [
    "a.py", "x.pyc", "pkg/__pycache__/", "pkg/__pycache__/m.pyc", "build", "build/", "src/build/", "dist/x.py",
    "docs/_build/html/", "app/migrations/0001.py", "app/migrations/sub/0001.py", "a/b", "a/c/d/b", "a/b/", "x.egg-info/",
    "node_modules/", "web/node_modules/p.py", "keep.py", "sub/keep.py", "local_settings.py", "proj/local_settings.py",
    "src/gen/a.py", "#literal", "Temp/", "temp/", "b.py", "ab.py", "x/", "y/x/", "x", "logs/a/b.txt", "a.log",
    "important.log", "foo/z/bar.py", "foo/z/y/bar.py", "trailing", "é/ü.py",
]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_combined_matcher_agrees_with_pathspec(size: int) -> None:
    for lines in itertools.combinations(PATTERNS, size):
        ours = GitIgnoreMatcher(list(lines))
        theirs = pathspec.GitIgnoreSpec.from_lines(list(lines))
        for path in PATHS:
            assert ours.match_file(path) == theirs.match_file(path), (lines, path)


def test_without_negation_one_expression_answers() -> None:
    assert GitIgnoreMatcher(list(DEFAULT_EXCLUDES)).combined is not None
    negated = GitIgnoreMatcher(["*.log", "!keep.log"])
    assert negated.combined is None  # negations: pathspec decides, when any pattern matches at all
    assert negated.any_pattern is not None and negated.any_pattern.match("a.py") is None
