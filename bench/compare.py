"""celerylint beside ruff on one tree: cold, warm, and one file changed as pre-commit runs it.

    python bench/compare.py PATH [--repeat 5] [--changed REL] [--cache-dir DIR]

Each row runs the two tools alternately, `--repeat` times, each run a fresh process timed by
os.wait4 (wall time, CPU time of the process and its children, peak RSS of the largest
process), and prints the medians and celerylint's ratio to ruff:

- cold: `celerylint --no-cache PATH` vs `ruff check --no-cache --select ALL PATH`;
- warm: both again with their caches filled and nothing changed;
- one file: a line appended to REL (default: the largest tasks.py) before each run, then
  `celerylint REL` vs `ruff check REL` from PATH, as pre-commit names changed files.
The appended line is removed at the end. The tree is never otherwise modified. celerylint's own
modules are byte-compiled first, as a pip install leaves them.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

Run = Tuple[float, float, float]  # wall seconds, CPU seconds, peak RSS MB


def _timed(command: Sequence[str], cwd: Path, env: Dict[str, str]) -> Run:
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed with {os.waitstatus_to_exitcode(status)}")
    # wait4 reports the process with the descendants it reaped: CPU summed, RSS the largest.
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _ruff() -> List[str]:
    found = shutil.which("ruff")
    return [found] if found else [sys.executable, "-m", "ruff"]


def _largest_tasks_module(root: Path) -> Path:
    candidates = [path for path in root.rglob("tasks.py") if "node_modules" not in path.parts]
    if not candidates:
        raise SystemExit("no tasks.py under PATH: name a file with --changed")
    return max(candidates, key=lambda path: path.stat().st_size).relative_to(root)


def _median(runs: List[Run]) -> Run:
    return (
        statistics.median(run[0] for run in runs),
        statistics.median(run[1] for run in runs),
        statistics.median(run[2] for run in runs),
    )


def _row(name: str, ours: List[Run], theirs: List[Run]) -> str:
    mine, ruff = _median(ours), _median(theirs)
    ratio = mine[0] / ruff[0] if ruff[0] else float("inf")
    return (
        f"| {name} | {mine[0]:.2f} s wall, {mine[1]:.2f} s CPU, {mine[2]:.0f} MB "
        f"| {ruff[0]:.2f} s wall, {ruff[1]:.2f} s CPU, {ruff[2]:.0f} MB | {ratio:.2f}x |"
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--changed", type=Path, help="file (relative to PATH) to change for the one-file row")
    parser.add_argument("--cache-dir", type=Path, help="celerylint's cache folder (default: a fresh temporary one)")
    parser.add_argument("--rows", default="cold,warm,one-file")
    args = parser.parse_args(argv)
    root = args.path.resolve()
    # As installed by pip, celerylint's modules are byte-compiled; a checkout run with
    # PYTHONDONTWRITEBYTECODE never is, and would time compiling them on every start.
    import celerylint

    compileall.compile_dir(str(Path(celerylint.__file__).parent), quiet=1)
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="celerylint-bench-"))
    env = dict(os.environ, CELERYLINT_CACHE_DIR=str(cache), RUFF_CACHE_DIR=str(cache / "ruff"))
    celerylint = [sys.executable, "-m", "celerylint", "--exit-zero"]
    ruff = _ruff() + ["check", "--exit-zero", "--quiet"]
    rows = args.rows.split(",")
    print(f"tree: {root}; {args.repeat} alternating runs per row; medians")
    print("| run | celerylint | ruff | ratio (wall) |\n|---|---|---|---|")
    if "cold" in rows:
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(_timed(celerylint + ["--no-cache", "."], root, env))
            theirs.append(_timed(ruff + ["--no-cache", "--select", "ALL", "."], root, env))
        print(_row("cold (no cache; ruff --select ALL)", ours, theirs), flush=True)
    if "warm" in rows:
        _timed(celerylint + ["."], root, env)
        _timed(ruff + ["."], root, env)
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(_timed(celerylint + ["."], root, env))
            theirs.append(_timed(ruff + ["."], root, env))
        print(_row("warm, nothing changed", ours, theirs), flush=True)
    if "one-file" in rows:
        changed = args.changed or _largest_tasks_module(root)
        target = root / changed
        original = target.read_bytes()
        _timed(celerylint + ["."], root, env)  # the cache holds the whole project
        _timed(ruff + ["."], root, env)
        ours, theirs = [], []
        try:
            for number in range(args.repeat):
                target.write_bytes(original + f"\n\ndef _bench_added_{number}():\n    return {number}\n".encode())
                ours.append(_timed(celerylint + [str(changed)], root, env))
                theirs.append(_timed(ruff + [str(changed)], root, env))
        finally:
            target.write_bytes(original)
        print(_row(f"one file changed ({changed}), that file named", ours, theirs), flush=True)
    if args.cache_dir is None:
        shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
