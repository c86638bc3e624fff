"""Benchmark: how long `celerylint server` takes to answer an edit, as an editor sees it.

    python bench/lsp.py PROJECT REL [--changes N] [-- SERVER ARGS...]

Opens PROJECT/REL, then sends N edits (a comment appended) one at a time and prints the time
from each didChange to the publishDiagnostics of that version (the debounce included), and the
analysis times the server logs. Example: python bench/lsp.py /path/to/saleor saleor/product/tasks.py
(a first open that parses the whole project may need CELERYLINT_LSP_TIMEOUT=600, in seconds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_server import LspClient  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("rel")
    parser.add_argument("--changes", type=int, default=7)
    parser.add_argument("server_args", nargs="*", help="after --: arguments for `celerylint server`")
    args = parser.parse_args()
    root = args.project.resolve()
    client = LspClient([sys.executable, "-m", "celerylint", "server", *args.server_args], root)
    try:
        client.start(root)
        path = root / args.rel
        text = path.read_text(encoding="utf-8")
        started = time.perf_counter()
        uri = client.open(path, text)
        found = client.diagnostics(uri, version=1)
        print(f"didOpen -> diagnostics: {time.perf_counter() - started:.3f} s ({len(found)} diagnostics)")
        times = []
        for version in range(2, args.changes + 2):
            started = time.perf_counter()
            client.change(uri, version, f"{text}\n# edit {version}\n")
            client.diagnostics(uri, version=version)
            times.append(time.perf_counter() - started)
            time.sleep(0.5)
        print("didChange -> diagnostics:", " ".join(f"{t:.3f}" for t in times), f"(median {statistics.median(times):.3f} s)")
        logged = [m["params"]["message"] for m in client.seen if m.get("method") == "window/logMessage"]
        print("server:", "; ".join(line.rsplit(" in ", 1)[-1] for line in logged[1:]))
        client.stop()
    finally:
        client.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
