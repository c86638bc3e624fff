"""Hostile repositories: every mode finishes within a time bound and a memory bound, and runs no code.

    python bench/hostile.py [--seconds 20] [--megabytes 600]

Builds each hostile tree of the "Nothing a repository holds can run code" issue in a temporary
folder, runs celerylint on it in every mode (console script, `python -m celerylint`, `inspect`,
`--stdin-filename`, flake8's console script and `python -m flake8`, `--diff`, the editor server
through bench/lsp.py, and `--fix` last since it writes), and prints wall time and
peak RSS of each run (os.wait4's rusage of that child alone), whether a marker file that the
tree's code would create appeared, and whether the run kept within the bounds. Exit 1 if any
run broke a bound or created a marker.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

TASK = "from celery import Celery\n\napp = Celery('p', broker='redis://', backend='redis://')\n\n\n@app.task\ndef job():\n    pass\n"
BIN = Path(sys.executable).parent


def _write(root: Path, files: Dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _base(root: Path) -> None:
    # views.py gives the fix modes something to fix (CEL022), next to each case's hostile files.
    views = "from proj.tasks import job\n\n\ndef view():\n    job.delay(countdown=5)\n"
    _write(root, {"pyproject.toml": "[project]\nname = 'h'\n", "proj/__init__.py": "", "proj/tasks.py": TASK, "proj/views.py": views})


def devices_and_fifos(root: Path, marker: Path) -> None:
    (root / "zero.py").symlink_to("/dev/zero")
    (root / "Procfile.dev").symlink_to("/dev/zero")
    (root / "docker-compose.yml").symlink_to("/dev/urandom")
    os.mkfifo(root / "fifo.py")
    os.mkfifo(root / "worker.sh")


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Tuple[Callable[..., object], Tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def crafted_cache(root: Path, marker: Path) -> None:
    cache = root / ".cache" / "celerylint"
    cache.mkdir(parents=True)
    import hashlib

    name = hashlib.blake2b(str(root.resolve()).encode(), digest_size=10).hexdigest()
    (cache / f"facts-{name}.pickle").write_bytes(pickle.dumps({"format": 1, "entries": _Payload(marker)}))


def shadowing_celery(root: Path, marker: Path) -> None:
    _write(
        root,
        {
            "celery.py": f"open({str(marker)!r}, 'w').write('x')\n",
            "celery-9.9.dist-info/METADATA": "Metadata-Version: 2.1\nName: celery\nVersion: /../../../../tmp/celerylint-escape\n",
        },
    )


def long_lines(root: Path, marker: Path) -> None:
    _write(root, {"Procfile": "web: " + "celery " * 130_000 + "\n", "run.sh": "worker \\\n" * 17_777 + "\n"})


def crlf_checkout(root: Path, marker: Path) -> None:
    for number in range(317):
        (root / "proj" / f"m{number}.py").write_bytes(f"import proj.m{number + 1}\r\nX = {number}\r\n".encode())


def unreadable_and_loops(root: Path, marker: Path) -> None:
    (root / "proj" / "a.py").symlink_to(root / "proj" / "b.py")
    (root / "proj" / "b.py").symlink_to(root / "proj" / "a.py")
    (root / "loop").symlink_to(root)
    private = root / "pgdata"
    private.mkdir()
    (private / "x.py").write_text("x = 1\n")
    private.chmod(0)


def control_characters(root: Path, marker: Path) -> None:
    (root / "proj" / "x\nProcfile:1:1: CEL001 forged.py").write_text("def broken(:\n")
    _write(root, {"proj/evil.py": TASK.replace("@app.task", '@app.task(name="\\x1b[2J")')})


def huge_files(root: Path, marker: Path) -> None:
    unit = "\n@app.task(bind=True)\ndef t_{i}(self, x):\n    r = other.delay(x, {{'k': [1, 2]}})\n    return r.get(timeout=10)\n"
    celery_file = "from celery import Celery\napp = Celery('x')\n"
    number = 0
    while len(celery_file) < 1_490_000:
        celery_file += unit.format(i=number)
        number += 1
    _write(root, {"proj/big_tasks.py": celery_file, "proj/generated.py": "X = [\n" + "    1,\n" * 1_400_000 + "]\n"})
    with open(root / "proj" / "sparse.py", "wb") as handle:
        handle.truncate(1024**3)  # 1 GB of zeros; must never be read whole


def deep_nesting(root: Path, marker: Path) -> None:
    _write(
        root,
        {
            "proj/elif_chain.py": "x = 0\nif x == 0:\n    pass\n" + "".join(f"elif x == {i}:\n    pass\n" for i in range(1, 400)),
            "proj/sum_chain.py": "x = " + " + ".join("1" for _ in range(2_000)) + "\n",
            "proj/nested.py": "x = " + "[" * 150 + "]" * 150 + "\n",
            "proj/too_deep.py": "x = " + "(" * 5_000 + ")" * 5_000 + "\n",
        },
    )


CASES: Dict[str, Callable[[Path, Path], None]] = {
    "devices and FIFOs": devices_and_fifos,
    "crafted cache": crafted_cache,
    "project celery.py and dist-info": shadowing_celery,
    "quadratic deploy lines": long_lines,
    "CRLF checkout (317 files)": crlf_checkout,
    "unreadable folder, link loops": unreadable_and_loops,
    "control characters": control_characters,
    "huge files (1.5 MB tasks, 8 MB, 1 GB sparse)": huge_files,
    "deep nesting": deep_nesting,
}

MODES: Dict[str, List[str]] = {
    "celerylint": [str(BIN / "celerylint"), "."],
    "python -m celerylint": [sys.executable, "-m", "celerylint", "."],
    "inspect": [str(BIN / "celerylint"), "inspect", "."],
    "stdin": [str(BIN / "celerylint"), "-", "--stdin-filename", "proj/tasks.py"],
    "flake8": [str(BIN / "flake8"), "--select", "CEL", "proj/tasks.py"],
    "python -m flake8": [sys.executable, "-m", "flake8", "--select", "CEL", "proj/tasks.py"],
    "--diff (fixes)": [str(BIN / "celerylint"), "--diff", "--unsafe-fixes", "."],
    # The editor server: open proj/tasks.py, one edit, its diagnostics, shutdown.
    "server": [sys.executable, str(Path(__file__).resolve().parent / "lsp.py"), ".", "proj/tasks.py", "--changes", "1"],
    "--fix (writes)": [str(BIN / "celerylint"), "--fix", "--unsafe-fixes", "."],
}


def _measure(command: List[str], cwd: Path, env: Dict[str, str], limit: float) -> Tuple[float, float, str]:
    started = time.monotonic()
    with open(cwd / "proj" / "tasks.py", "rb") as stdin:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = started + limit * 3
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            return time.monotonic() - started, usage.ru_maxrss / 1024, "killed"
        time.sleep(0.02)
    code = os.waitstatus_to_exitcode(status)
    return time.monotonic() - started, usage.ru_maxrss / 1024, str(code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="time bound for one run")
    parser.add_argument("--megabytes", type=float, default=600.0, help="peak RSS bound for one run")
    args = parser.parse_args()
    print(f"bounds: {args.seconds:g} s and {args.megabytes:g} MB peak RSS per run\n")
    print(f"{'case':<46} {'mode':<22} {'exit':>6} {'seconds':>8} {'MB':>7}  verdict")
    failed = False
    for case, build in CASES.items():
        top = Path(tempfile.mkdtemp(prefix="celerylint-hostile-"))
        root, marker = top / "repo", top / "MARKER"
        root.mkdir()
        try:
            _base(root)
            build(root, marker)
            env = {**os.environ, "XDG_CACHE_HOME": str(root / ".cache"), "NO_COLOR": "1", "PYTHONPATH": str(root)}
            env.pop("CELERYLINT_CACHE_DIR", None)
            for mode, command in MODES.items():
                # Each mode analyses the tree itself: no answer stored by the mode before it.
                for stored in (root / ".cache" / "celerylint").glob("results-*.json"):
                    stored.unlink()
                seconds, megabytes, code = _measure(command, root, env, args.seconds)
                ok = code in ("0", "1") and seconds <= args.seconds and megabytes <= args.megabytes and not marker.exists()
                escaped = Path("/tmp/celerylint-escape").exists()
                verdict = "ok" if ok and not escaped else "FAILED" + (" (marker)" if marker.exists() else "") + (" (escape)" if escaped else "")
                failed |= verdict != "ok"
                print(f"{case:<46} {mode:<22} {code:>6} {seconds:8.2f} {megabytes:7.0f}  {verdict}", flush=True)
        finally:
            for path in top.rglob("*"):
                if path.is_dir() and not path.is_symlink():
                    path.chmod(0o755)
            shutil.rmtree(top, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
