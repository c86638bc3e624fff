"""Benchmark: run celerylint over a tree and print files, seconds, files/s and peak memory.

    python bench/run.py PATH [--jobs N] [--repeat N] [--cold]

A first run (or --cold) parses every file; later runs read facts from the cache.

Peak memory is the largest resident set of this process and of the parsing processes.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celerylint.config import Settings  # noqa: E402
from celerylint.engine import run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cold", action="store_true", help="ignore the facts cache (a cold run)")
    args = parser.parse_args()
    for attempt in range(args.repeat):
        start = time.perf_counter()
        analysis, findings = run([args.path], Settings(use_cache=not args.cold), args.jobs)
        seconds = time.perf_counter() - start
        files = len(analysis.files.python)
        detailed = sum(1 for facts in analysis.facts.values() if facts.detailed)
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(
            f"run {attempt + 1}: files={files} parsed_with_libcst={detailed} findings={len(findings)} "
            f"seconds={seconds:.2f} files_per_second={files / seconds:.0f} "
            f"peak_rss_mb={max(own, children) / 1024:.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
