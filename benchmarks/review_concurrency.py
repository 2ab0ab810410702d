"""Concurrent review writes to studio.db (WAL): 8 client processes × N annotations each,
against the baseline of one process writing all 8 × N alone. Prints throughput and the
ratio, and checks that no annotation is lost.

    .venv/bin/python benchmarks/review_concurrency.py [--per-client 1000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.project import open_project  # noqa: E402


def _client(home: str, who: int, n: int, start) -> None:
    from studio import review

    project = open_project(home)
    start.wait()
    for i in range(n):
        if i % 2:
            review.set_verdict(project, "bench", i, "success", author=f"c{who}")
        else:
            review.add_comment(project, "bench", i, f"c{who}", f"note {i}")


def run(clients: int, per_client: int) -> float:
    home = Path(tempfile.mkdtemp(prefix="studio-bench-")) / "home"
    open_project(home)
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(clients + 1)
    procs = [ctx.Process(target=_client, args=(str(home), w, per_client, start)) for w in range(clients)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    from studio import review

    project = open_project(home)
    got = len(review.list_comments(project, "bench")) + len(review.list_verdicts(project, "bench"))
    assert got == clients * per_client, f"lost annotations: {got} of {clients * per_client}"
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-client", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    a = ap.parse_args()
    total = a.clients * a.per_client
    base = run(1, total)
    conc = run(a.clients, a.per_client)
    print(f"baseline: 1 process × {total} annotations: {base:.2f} s ({total / base:,.0f}/s)")
    print(f"concurrent: {a.clients} processes × {a.per_client}: {conc:.2f} s ({total / conc:,.0f}/s), none lost")
    print(f"ratio concurrent/baseline throughput: {base / conc:.2f}x")


if __name__ == "__main__":
    main()
