"""Concurrent clients writing through the studio API to studio.db (WAL) never lose an update."""

import multiprocessing as mp
import time

from studio.project import open_project

CLIENTS = 8
PER_CLIENT = 1000
TARGET = "night-run"


def _client(home: str, who: int, start, errors) -> None:
    from studio import review

    project = open_project(home)
    start.wait()
    try:
        for i in range(PER_CLIENT):
            if i % 2 == 0:
                review.add_comment(project, TARGET, i, f"client-{who}", f"comment {i} from client {who}")
            else:
                verdict = ("success", "fail")[(i // 2) % 2]
                review.set_verdict(project, TARGET, i, verdict, author=f"client-{who}")
    except Exception as exc:  # reported to the parent: a lost write must fail the test
        errors.put(f"client {who}: {type(exc).__name__}: {exc}")


def test_8_clients_x_1000_annotations_all_present(tmp_path):
    from studio import review

    project = open_project(tmp_path / "home")
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(CLIENTS)
    errors = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(str(project.home), w, start, errors)) for w in range(CLIENTS)]
    t0 = time.time()
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    elapsed = time.time() - t0
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    assert errors.empty(), errors.get()

    comments = review.list_comments(project, TARGET)
    verdicts = review.list_verdicts(project, TARGET)
    assert len(comments) + len(verdicts) == CLIENTS * PER_CLIENT, elapsed
    assert len(comments) == len(verdicts) == CLIENTS * PER_CLIENT // 2
    # every client's every annotation is there exactly once, with its author and time
    assert {(c.author, c.episode_index) for c in comments} == {
        (f"client-{w}", i) for w in range(CLIENTS) for i in range(0, PER_CLIENT, 2)
    }
    assert {(v.author, v.episode_index) for v in verdicts} == {
        (f"client-{w}", i) for w in range(CLIENTS) for i in range(1, PER_CLIENT, 2)
    }
    assert all(c.at > 0 for c in comments) and all(v.at > 0 for v in verdicts)
    acts = review.activity(project, limit=CLIENTS * PER_CLIENT + 10)
    assert len(acts) == CLIENTS * PER_CLIENT
    conn = project.connect()
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
