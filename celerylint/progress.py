"""The progress line of a long cold run: `celerylint: parsing 1234/4337 files`, overwritten in
place on stderr, only when stderr is a terminal (never in a pipe, a log or CI output)."""

from __future__ import annotations

import time
from typing import Callable, Optional, TextIO

# Fewer files than this parse in a few seconds: a line would only flicker.
MIN_FILES = 200
# Redraw at most this often: a terminal write per file would slow the run it reports on.
INTERVAL_SECONDS = 0.1

ProgressCallback = Callable[[int, int], None]  # (files done, files to parse)


class ProgressLine:
    """A callback for the engine's parsing, and `clear()` once the run is done."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.shown = False
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total < MIN_FILES:
            return
        now = self.clock()
        if done < total and self.shown and now - self.last < INTERVAL_SECONDS:
            return
        self.last = now
        self.shown = True
        self.stream.write(f"\rcelerylint: parsing {done}/{total} files")
        self.stream.flush()

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")  # erase the line: the report and warnings start clean
            self.stream.flush()
            self.shown = False


def progress_line(stream: TextIO, quiet: bool) -> Optional[ProgressLine]:
    """A progress line on a terminal, else None (piped, redirected, or -q)."""
    isatty = getattr(stream, "isatty", None)
    if quiet or not (isatty and isatty()):
        return None
    return ProgressLine(stream)
