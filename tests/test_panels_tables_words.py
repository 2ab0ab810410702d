"""Issue 18, items 6 and 7, in headless chromium on one served app: Curate's "selection vs
the rest" with nothing filtered, a 0-episode selection refused, messages in form words,
tables with whole headers and one-line numbers, empty states, icons without an emoji font;
Train's queue (note column, row height, the log's loss) and its loss figure (smoothed over
raw, lr, grad-norm, overlay); workspace outputs back after a reopen.

Cells are measured with the browser's own boxes (`measure` below)."""

from __future__ import annotations

import json
import re
import time

import pytest

from studio import db
from studio.jobs.model import get_job, insert_job, update_job

MEASURE = """(sel) => {
  const root = document.querySelector(sel);
  if (!root) return null;
  const table = [...root.querySelectorAll('table')].find(t => getComputedStyle(t).opacity !== '0');
  if (!table || !table.getClientRects().length) return {visible: false, text: root.innerText};
  const lines = (el) => { const r = document.createRange(); r.selectNodeContents(el);
    return new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top))).size; };
  const heads = [...table.querySelectorAll('thead th')].map(th => {
    const b = th.querySelector('.header-button') || th; const sp = th.querySelector('.header-button span') || b;
    return {text: th.innerText.trim(), width: th.getBoundingClientRect().width,
            cut: b.scrollWidth > b.clientWidth + 1 || sp.scrollWidth > sp.clientWidth + 1, lines: lines(sp)};
  });
  const rows = [...table.querySelectorAll('tbody tr')].map(tr => ({height: tr.getBoundingClientRect().height,
    cells: [...tr.querySelectorAll('td')].map(td => { const sp = td.querySelector('span.text') || td;
      return {text: sp.innerText.trim(), width: td.getBoundingClientRect().width, lines: lines(sp)}; })}));
  return {visible: true, heads, rows, overflow: table.scrollWidth > root.getBoundingClientRect().width + 1};
}"""
NUMBER = re.compile(r"^-?[\d.,]+(e[-+]?\d+)?( / \d+)?$|^\d+/\d+$"
                    r"|^-?[\d.,]+ ?(%|s)? \[-?[\d.,]+–-?[\d.,]+\]$")  # values with their interval: "3.07 s [2.41–3.89]"


def measure(page, sel: str) -> dict:
    return page.evaluate(MEASURE, sel)


def measure_shown(page, sel: str, timeout: float = 60.0) -> dict:
    """`measure` once the table is drawn with rows (a table is drawn a moment after its data lands)."""
    deadline = time.monotonic() + timeout
    while True:
        m = measure(page, sel)
        if (m and m["visible"] and m["rows"]) or time.monotonic() > deadline:
            return m
        page.wait_for_timeout(250)


def assert_whole_headers_and_numbers(m: dict, name: str) -> None:
    assert m and m["visible"], f"{name} is not shown"
    for h in m["heads"]:
        assert not h["cut"] and h["lines"] <= 1, f"{name}: header {h['text']!r} is cut or wrapped ({h})"
    for row in m["rows"]:
        for c in row["cells"]:
            if NUMBER.match(c["text"]) or c["text"] in ("succeeded", "failed", "running", "queued") \
                    or re.fullmatch(r"[a-z_]+", c["text"]):  # states, plugin and column names
                assert c["lines"] == 1, f"{name}: {c['text']!r} wraps over {c['lines']} lines"


def _fake_job(project, name: str, state: str, steps: int, *, scale: float, error: str | None = None,
              log_freq: int = 10):
    """A finished job whose metrics.jsonl and train.log come from lerobot's own tracker and the
    studio's trainer entry (as a real run writes them), without training anything."""
    from lerobot.utils.logging_utils import AverageMeter, MetricsTracker

    from studio.jobs.train_entry import Emitter

    conn = project.connect()
    try:
        with db.transaction(conn):
            jid = insert_job(conn, name=name, spec={"steps": steps, "dataset": "/data/reach", "policy": "act"})
            update_job(conn, jid, state=state, error=error, started_at=time.time(), finished_at=time.time())
    finally:
        conn.close()
    job = get_job(project, jid)
    job.run_dir.mkdir(parents=True, exist_ok=True)
    meters = {"loss": AverageMeter("loss", ":.3f"), "grad_norm": AverageMeter("grdn", ":.3f"),
              "lr": AverageMeter("lr", ":0.1e"), "update_s": AverageMeter("updt_s", ":.3f"),
              "dataloading_s": AverageMeter("data_s", ":.3f")}
    tracker = MetricsTracker(4, 400, 8, meters)
    emitter = Emitter(job.metrics_path, steps, 4)
    log = []
    for i in range(1, steps + 1):
        tracker.loss = scale / i ** 0.5 + (0.3 if i % 3 == 0 else 0.0)
        tracker.grad_norm, tracker.lr, tracker.update_s, tracker.dataloading_s = 5 / i ** 0.5, 1e-4, 0.01, 0.001
        tracker.step()
        emitter.on_step(tracker)
        if i % log_freq == 0:
            log.append(f"INFO 2026-01-01 00:00:00 ot_train.py:300 {tracker}")
            tracker.reset_averages()
    emitter.fh.close()
    job.log_path.write_text("\n".join(log) + "\n")
    return job


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One served app for the module: a synthetic dataset, two rollout sets, two finished jobs (the newest one
    is shown first), a workspace with a query cell and an empty-result cell."""
    from helpers import free_port, sim_rollout_set, wait_http

    from panels.app import build_app, serve_options
    from studio.project import open_project
    from studio.synthetic import write_synthetic_dataset

    project = open_project(tmp_path_factory.mktemp("i18c") / "home")
    write_synthetic_dataset(project.datasets_dir / "synth", episodes=8, frames=30, seed=5)
    write_synthetic_dataset(project.datasets_dir / "old21", episodes=2, frames=30, version="v2.1", seed=6,
                            stats_json=False)  # as lerobot 2.1 writes it: statistics per episode only
    sim_rollout_set(project.rollouts_dir / "ckpt-a", [17, 18, 19])
    sim_rollout_set(project.rollouts_dir / "ckpt-b", [17, 18, 19], frames=(55, 35, 45))
    failed = _fake_job(project, "act on synth-curated", "failed", 40, scale=2.0,
                       error="lerobot-train exited with status 1: RuntimeError: CUDA out of memory while allocating "
                             "a tensor of shape [8, 3, 480, 640]; see train.log for the whole traceback and try a "
                             "smaller batch size or image size")
    done = _fake_job(project, "act on synth (all data)", "succeeded", 80, scale=1.0)
    (project.workspaces_dir / "kept.md").parent.mkdir(parents=True, exist_ok=True)
    (project.workspaces_dir / "kept.md").write_text(
        "---\ntitle: Kept\ndataset: synth\n---\n\n# Outputs survive\n\n"
        "```{sql}\nSELECT episode_index, length FROM episodes WHERE episode_index < 3 ORDER BY episode_index\n```\n\n"
        "```{sql}\nSELECT episode_index FROM episodes WHERE episode_index < 0\n```\n")
    demo = build_app(project)
    port = free_port()
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, show_api=False,
                **serve_options(project))
    url = f"http://127.0.0.1:{port}/"
    wait_http(url)
    yield {"url": url, "project": project, "failed": failed, "done": done}
    demo.close()


def test_curate_says_there_is_no_rest_refuses_empty_selections_and_speaks_form_words(app, page):
    from studio.curation.selections import list_selections

    project, root = app["project"], app["project"].datasets_dir / "synth"
    page.goto(app["url"] + "?panel=Curate")
    page.locator("#curate-dataset input").wait_for(timeout=120_000)
    # before anything is loaded: a plain sentence, no table of "1 2 3" headers
    assert "Load a dataset" in page.locator("#curate-compare-note").inner_text()
    assert not page.locator("#curate-compare table").first.is_visible()
    assert not page.locator("#curate-table table").first.is_visible()

    page.locator("#curate-dataset input").fill(str(root))
    page.locator("#curate-dataset input").press("Enter")
    page.click("#curate-load")
    page.locator("#curate-summary").get_by_text("8 of 8 episodes").wait_for(timeout=120_000)
    note = page.locator("#curate-compare-note")
    note.get_by_text("no rest").wait_for()
    page.locator("#curate-compare table").first.wait_for()
    page.locator("#curate-table table").first.wait_for()
    m = measure(page, "#curate-compare")
    assert [h["text"] for h in m["heads"]] == ["metric", "better is", "episodes", "mean", "median", "min", "max"]
    assert m["rows"] and all(c["text"] not in ("", "null", "None", "nan") for r in m["rows"] for c in r["cells"])
    assert_whole_headers_and_numbers(m, "selection vs rest")
    assert_whole_headers_and_numbers(measure(page, "#curate-table"), "episodes table")

    # thumbs drawn as inline SVG: a sized icon with no emoji font installed, no emoji in the label
    icon = page.evaluate("""() => [...document.querySelectorAll('#curate-tag-good, #curate-tag-bad')].map(b => {
        const st = getComputedStyle(b, '::before');
        return {text: b.innerText, w: parseFloat(st.width) || 0, h: parseFloat(st.height) || 0,
                mask: st.maskImage || st.webkitMaskImage || ''}; })""")
    for b in icon:
        assert b["w"] > 8 and b["h"] > 8 and "svg" in b["mask"], b
        assert not any(ord(ch) >= 0x1F000 for ch in b["text"]), b["text"]

    # a filter that keeps nothing: saving is refused on screen and no `episodes=[]` is offered
    where = page.locator("#curate-where textarea")
    where.fill("episode_index < 0")
    page.click("#curate-apply")
    page.locator("#curate-summary").get_by_text("0 of 8 episodes").wait_for()
    page.locator("#curate-compare-note").get_by_text("no episodes").wait_for()
    page.locator("#curate-sel-name textarea").fill("nothing")
    page.click("#curate-save")
    page.locator("#curate-sel-status").get_by_text("Not saved").wait_for()
    assert "keeps no episodes" in page.locator("#curate-sel-status").inner_text()
    assert list_selections(project) == []
    page.click("#curate-episode-list")
    page.locator("#curate-export-status").get_by_text("No episode list").wait_for()
    assert "episodes=[]" not in page.content()

    # a bad filter is named as the form names it, not as a CLI flag
    where.fill("jerk <<< 2")
    page.click("#curate-apply")
    toast = page.get_by_text(re.compile(r"<<<")).first
    toast.wait_for()
    text = toast.inner_text()
    assert text.startswith("Filter:") and "--where" not in text, text
    assert not page.console_errors.errors(), page.console_errors


def test_train_queue_matches_the_log_and_draws_one_loss_figure(app, page):
    done, failed = app["done"], app["failed"]
    page.goto(app["url"] + "?panel=Train")
    page.locator("#train-progress-bar[data-state='succeeded']").wait_for(timeout=120_000)
    page.wait_for_function("() => (document.querySelector('#train-log textarea') || {}).value.includes('loss:')")

    m = measure(page, "#train-queue")
    assert_whole_headers_and_numbers(m, "queue")
    heads = [h["text"] for h in m["heads"]]
    rows = {r["cells"][0]["text"]: r for r in m["rows"]}
    note = rows[str(failed.id)]["cells"][heads.index("note")]
    assert note["width"] >= 200, note  # not squeezed to one word
    assert not m["overflow"], "the queue runs off the panel"
    assert all(r["height"] <= 120 for r in m["rows"]), [r["height"] for r in m["rows"]]  # no 450 px rows
    # the queue's loss is the one the log prints at the same (last) step
    log = page.locator("#train-log textarea").input_value()
    last = log.strip().splitlines()[-1]
    assert re.search(r"step:80\b", last), last
    logged = re.search(r"loss:(\S+)", last).group(1)
    assert rows[str(done.id)]["cells"][heads.index("loss")]["text"] == logged
    assert rows[str(done.id)]["cells"][heads.index("progress")]["text"] == "80 / 80"

    # the figure: smoothed loss over the raw one, learning rate and gradient norm
    plot = page.locator("#train-loss .js-plotly-plot")
    plot.wait_for()
    fig = page.evaluate("""() => { const d = document.querySelector('#train-loss .js-plotly-plot');
        return d.data.map(t => ({name: t.name, yaxis: t.yaxis || 'y', opacity: t.opacity === undefined ? 1 : t.opacity,
                                 n: (t.y || []).length, legend: t.showlegend !== false})); }""")
    by = {t["name"]: t for t in fig}
    label = f"job {done.id}: {done.name}"
    assert by[f"{label} raw"]["opacity"] < 1 <= by[label]["opacity"] and by[label]["n"] == 80
    assert by[f"{label} lr"]["yaxis"] == "y2" and by[f"{label} grad norm"]["yaxis"] == "y3"
    titles = page.locator("#train-loss").inner_text()
    assert "learning rate" in titles and "gradient norm" in titles

    # overlay the other run: both in one figure
    page.locator("#train-overlay input").click()
    page.get_by_role("option", name=re.compile(rf"^{failed.id}: ")).click()
    page.wait_for_function(f"""() => {{ const d = document.querySelector('#train-loss .js-plotly-plot');
        return d && d.data.some(t => t.name === 'job {failed.id}: {failed.name}'); }}""", timeout=30_000)
    legend = page.locator("#train-loss .legend").first.text_content()
    assert label in legend and f"job {failed.id}: {failed.name}" in legend
    # no checkpoints: a sentence, not an empty table
    assert page.locator("#train-checkpoints-empty").get_by_text("No checkpoints yet").is_visible()
    assert not page.locator("#train-checkpoints table").first.is_visible()
    assert not page.console_errors.errors(), page.console_errors


def test_workspace_outputs_come_back_when_reopened(app, page):
    project = app["project"]
    page.goto(app["url"] + "?panel=Workspaces&workspace=kept")
    page.locator("#ws-cell-1-run").wait_for(timeout=120_000)
    assert page.locator("#ws-cell-1-out-0").count() == 0
    page.locator("#ws-cell-1-run").click()
    page.locator("#ws-cell-1-out-0 table").first.wait_for()
    page.locator("#ws-cell-2-run").click()
    page.locator("#ws-cell-2-out-0").get_by_text("no rows").wait_for()  # an empty result says so
    assert "```{output}" in (project.workspaces_dir / "kept.md").read_text()

    page.goto(app["url"] + "?panel=Workspaces&workspace=kept")  # the tab closed and opened again
    page.locator("#ws-cell-1-out-0 table").first.wait_for(timeout=60_000)
    m = measure(page, "#ws-cell-1-out-0")
    assert [h["text"] for h in m["heads"]] == ["episode_index", "length"]
    assert [[c["text"] for c in r["cells"]] for r in m["rows"]] == [["0", "30"], ["1", "30"], ["2", "30"]]
    assert_whole_headers_and_numbers(m, "workspace table")
    assert page.locator("#ws-cell-2-out-0").get_by_text("no rows").is_visible()
    assert not page.console_errors.errors(), page.console_errors


def test_datasets_tables_keep_headers_and_numbers_whole(app, page):
    """Issue 18 item 7 beyond Curate and Train: the Datasets episodes table and SQL result (long
    column names, fractions), the Rollouts episodes table and Compare's metrics and per-seed
    tables (the tests below) show every header whole and every number on one line."""
    from urllib.parse import quote

    page.goto(app["url"] + "?panel=Datasets&dataset=" + quote(str(app["project"].datasets_dir / "synth")))
    page.locator("#datasets-page-info").get_by_text("8 episodes").wait_for(timeout=120_000)
    assert_whole_headers_and_numbers(measure_shown(page, "#datasets-episodes"), "Datasets episodes")

    page.get_by_role("tab", name="SQL").click()
    page.locator("#datasets-sql .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text('SELECT episode_index AS "episode of this synthetic recording", '
                              'length * 1234.56789 AS "frames times a long constant", 1 / 3 AS third, '
                              'length AS "number of frames in the episode" FROM episodes ORDER BY 1')
    page.keyboard.press("Control+Enter")
    page.locator("#datasets-sql-status").get_by_text("8 rows").wait_for()
    m = measure_shown(page, "#datasets-result")
    assert_whole_headers_and_numbers(m, "SQL result")
    assert [h["text"] for h in m["heads"]][:2] == ["episode of this synthetic recording", "frames times a long constant"]
    assert not page.console_errors.errors(), page.console_errors


def test_rollouts_table_keeps_headers_and_numbers_whole(app, page):
    page.goto(app["url"] + "?panel=Rollouts&set=ckpt-a")
    page.locator("#rollouts-episodes tbody tr").first.wait_for(timeout=120_000)
    page.locator("#rollouts-episodes").get_by_text("success").first.wait_for()
    assert_whole_headers_and_numbers(measure_shown(page, "#rollouts-episodes"), "Rollouts episodes")
    assert not page.console_errors.errors(), page.console_errors


def test_compare_tables_keep_headers_and_numbers_whole(app, page):
    page.goto(app["url"] + "?panel=Compare&a=ckpt-a&b=ckpt-b")
    page.locator("#compare-verdict").get_by_text("ckpt-b").first.wait_for(timeout=120_000)
    page.locator("#compare-table tbody tr").first.wait_for()
    assert_whole_headers_and_numbers(measure_shown(page, "#compare-table"), "Compare metrics")
    page.locator("#compare-grid tbody tr").first.wait_for()
    assert_whole_headers_and_numbers(measure_shown(page, "#compare-grid"), "Compare seeds")
    assert not page.console_errors.errors(), page.console_errors


def test_v21_dataset_shows_no_stats_problem(app, page):
    """Issue 18 item 8 in the page: a v2.1 dataset ships its statistics per episode
    (meta/episodes_stats.jsonl), so the overview names no missing meta/stats.json."""
    from urllib.parse import quote

    root = app["project"].datasets_dir / "old21"
    assert not (root / "meta" / "stats.json").exists() and (root / "meta" / "episodes_stats.jsonl").exists()
    page.goto(app["url"] + "?panel=Datasets&dataset=" + quote(str(root)))
    overview = page.locator("#datasets-overview")
    overview.get_by_text("v2.1").first.wait_for(timeout=120_000)
    page.locator("#datasets-page-info").get_by_text("2 episodes").wait_for()
    text = overview.inner_text()
    assert "stats.json" not in text and "recomputed" not in text, text
    assert not page.console_errors.errors(), page.console_errors
