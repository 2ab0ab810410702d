"""Rollouts: pick a rollout set (sim or real robot) or a dataset, see every episode with its
outcome and verdict, play one (or several side by side) in the embedded Rerun viewer,
download the .rrd, and give a verdict with a comment. Everything is computed by
studio.review and studio.playback; this panel only drives them."""

from __future__ import annotations

import logging
import time
from typing import Any

import gradio as gr

from panels.common import guarded
from panels.registry import AppContext, Panel
from panels.viewer import notes_markdown, rerun_viewer, show_episodes
from studio import review
from studio.errors import StudioError

log = logging.getLogger("studio.ui.rollouts")

COLUMNS = ["episode", "frames", "seed", "outcome", "progress", "verdict", "comments"]
VERDICT_ICON = {"success": "✓ success", "partial": "◐ partial", "fail": "✗ fail"}


def target_choices(project) -> list[tuple[str, str]]:
    return [(t.label, t.key) for t in review.targets(project)]


def episode_table(project, key: str) -> list[list[Any]]:
    rows = []
    for r in review.episode_rows(project, key):
        outcome = "" if r.success is None else ("success" if r.success else "fail")
        progress = "" if r.progress is None else f"{100 * r.progress:.0f}%"
        verdict = VERDICT_ICON.get(r.verdict or "", "")
        if r.verdict == "partial":
            verdict += f" {r.verdict_progress:g}%"
        rows.append([r.episode_index, r.length, "" if r.seed is None else r.seed, outcome, progress, verdict,
                     r.n_comments])
    return rows


def set_summary(project, key: str) -> str:
    t = review.resolve_target(project, key)
    rows = review.episode_rows(project, t.key)
    n = len(rows)
    lines = []
    if t.rollout_set is not None:
        s = t.rollout_set
        lines.append(f"**{s.name}** · {s.kind} rollouts of checkpoint `{s.checkpoint}` · {n} episodes · `{s.path}`")
    else:
        lines.append(f"**{t.root.name}** · dataset · {n} episodes · `{t.root}`")
    judged = [r for r in rows if r.success is not None]
    if judged:
        k = sum(1 for r in judged if r.success)
        lines.append(f"Engine: {k}/{len(judged)} successful.")
    reviewed = [r for r in rows if r.verdict is not None]
    if reviewed:
        ok = sum(1 for r in reviewed if r.verdict == "success")
        part = sum(1 for r in reviewed if r.verdict == "partial")
        lines.append(f"Reviewed: {len(reviewed)}/{n} · {ok} success · {part} partial · {len(reviewed) - ok - part} fail.")
    return "  \n".join(lines)


def comments_markdown(project, key: str, episode: int | None) -> str:
    if episode is None:
        return ""
    items = review.list_comments(project, key, episode)
    verdicts = review.list_verdicts(project, key, episode)
    lines = [f"**Episode {episode}**"]
    for v in verdicts:
        extra = f" {v.progress:g}%" if v.verdict == "partial" else ""
        lines.append(f"- {VERDICT_ICON[v.verdict]}{extra} — {v.author}, {_when(v.at)}")
    if not items:
        lines.append("\n_No comments yet._")
    for c in items:
        lines.append(f"\n> {c.body}\n>\n> — **{c.author}**, {_when(c.at)}")
    return "\n".join(lines)


def activity_markdown(project, limit: int = 12) -> str:
    acts = review.activity(project, limit)
    if not acts:
        return "_No review activity yet._"
    out = ["**Recent activity**", ""]
    for a in acts:
        ep = f" episode {a.episode_index}" if a.episode_index is not None else ""
        detail = f": {a.detail[:80]}" if a.detail else ""
        out.append(f"- {_when(a.at)} · {a.author} {a.action} `{a.target if len(a.target) < 40 else '…' + a.target[-38:]}`{ep}{detail}")
    return "\n".join(out)


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at))


def _author(request: gr.Request | None) -> str:
    user = getattr(request, "username", None) if request is not None else None
    return user or review.current_user()


def parse_others(project, text: str) -> list[tuple[str, int, str | None]]:
    """'3, 5' (same set) or 'other-set:17' / '/path/to/dataset:17' → extra episodes to play alongside."""
    out = []
    for part in [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]:
        if part.isdigit():
            out.append((None, int(part), None))
            continue
        ref, _, ep = part.rpartition(":")
        if not ep.strip().isdigit() or not ref:
            raise StudioError("side by side", f"{part!r} is not EPISODE or SET:EPISODE")
        t = review.resolve_target(project, ref)
        out.append((str(t.root), int(ep), f"{t.root.name}_ep{int(ep)}"))
    return out


def register_set(project, path: str, checkpoint: str, name: str | None, author: str) -> str:
    """The panel's "Register real-robot rollouts" form → one sentence."""
    if not (path or "").strip():
        raise StudioError("dataset folder", "type the folder of the recorded LeRobot dataset")
    rs = review.register_rollouts(project, path.strip(), checkpoint=checkpoint, name=(name or "").strip() or None,
                                  kind="real", author=author)
    return f"Registered **{rs.name}**: {rs.n_episodes} real-robot rollouts of `{rs.checkpoint}`."


def build(ctx: AppContext) -> None:
    project = ctx.project

    with gr.Row():
        # value=None: nothing is shown as chosen until a set is loaded (Gradio 5 shows the first choice otherwise)
        target = gr.Dropdown(choices=target_choices(project), value=None, label="Rollout set or dataset", scale=4,
                             elem_id="rollouts-target", allow_custom_value=True,
                             info="Sim rollout sets, registered real-robot rollouts and the project's datasets; "
                                  "or type a dataset folder.")
        refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="rollouts-refresh")
    summary = gr.Markdown("_Choose a rollout set or dataset above._", elem_id="rollouts-summary")
    loaded = gr.State(None)  # the key whose episodes the table shows: verdicts go there and nowhere else
    shown = gr.State(None)  # the rows the table shows (key and rows), so a refresh redraws only on change
    # the choices the page offers: the list is sent again only when it changed, since a choices
    # update that crosses a link's update in flight empties the chosen set in the browser
    offered = gr.State(target_choices(project))
    with gr.Row():
        with gr.Column(scale=3, min_width=420):
            table = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, wrap=True, max_height=300,
                                 elem_id="rollouts-episodes", label="Episodes (click a row to play it)")
            with gr.Row():
                episode = gr.Number(label="Episode", precision=0, minimum=0, elem_id="rollouts-episode")
                others = gr.Textbox(label="Side by side with", placeholder="e.g. 4, 7 or other-set:17",
                                    elem_id="rollouts-others")
            show = gr.Button("▶ Play", variant="primary", elem_id="rollouts-show")
        with gr.Column(scale=2, min_width=320):
            with gr.Group():
                gr.Markdown("**Review this episode**")
                verdict = gr.Radio(["success", "partial", "fail"], label="Verdict", elem_id="rollouts-verdict")
                progress = gr.Slider(0, 100, value=50, step=5, label="Progress % (partial)",
                                     elem_id="rollouts-progress")
                comment = gr.Textbox(label="Comment", lines=2, elem_id="rollouts-comment")
                with gr.Row():
                    save_verdict = gr.Button("Save verdict", elem_id="rollouts-save-verdict")
                    save_comment = gr.Button("Comment only", elem_id="rollouts-save-comment")
            status = gr.Markdown(elem_id="rollouts-status")
            comments = gr.Markdown(elem_id="rollouts-comments")
    # The viewer spans the panel: cameras, the 3D scene and grouped plots side by side.
    notes = gr.Markdown(elem_id="rollouts-notes")
    viewer = rerun_viewer(elem_id="rollouts-viewer")
    download = gr.File(label="Recording (.rrd)", interactive=False, elem_id="rollouts-download", height=60)
    activity = gr.Markdown(activity_markdown(project), elem_id="rollouts-activity")
    with gr.Accordion("Register real-robot rollouts", open=False, elem_id="rollouts-register"):
        gr.Markdown("A LeRobot dataset recorded while a checkpoint's policy ran (`lerobot-record --policy.path=…`). "
                    "It is only read, never changed.")
        with gr.Row():
            reg_path = gr.Textbox(label="Dataset folder", scale=3, elem_id="rollouts-register-path")
            reg_ckpt = gr.Textbox(label="Checkpoint", scale=2, elem_id="rollouts-register-checkpoint")
            reg_name = gr.Textbox(label="Name (optional)", scale=2, elem_id="rollouts-register-name")
        reg_btn = gr.Button("Register", elem_id="rollouts-register-button")
        reg_status = gr.Markdown(elem_id="rollouts-register-status")

    @guarded
    def on_refresh(current):
        choices = target_choices(project)
        keys = [k for _, k in choices]
        if current in keys or (current and not keys):
            return gr.update(choices=choices), activity_markdown(project)
        return gr.update(choices=choices, value=current or None), activity_markdown(project)

    @guarded
    def on_changes(loaded_key, shown_key, offered_v):
        """Something changed in the project (a new rollout set, a verdict elsewhere): new choices
        when there are new sets, and the loaded set's table redrawn only when its rows changed (a
        running job moves the token every few seconds; the table must not jump under the reader).
        The chosen set is never set from here: a link or a choice may be on its way."""
        choices = target_choices(project)
        target_out = gr.skip() if choices == offered_v else gr.update(choices=choices)
        act = activity_markdown(project)
        if not loaded_key:
            return target_out, act, gr.skip(), gr.skip(), shown_key, choices
        try:
            rows = episode_table(project, loaded_key)
        except StudioError:  # the set went away: the next action says so
            return target_out, act, gr.skip(), gr.skip(), shown_key, choices
        key = f"{loaded_key}|{rows!r}"
        if key == shown_key:
            return target_out, act, gr.skip(), gr.skip(), shown_key, choices
        return target_out, act, rows, set_summary(project, loaded_key), key, choices

    @guarded
    def on_target(key):
        if not key:
            return "_Choose a rollout set or dataset above._", [], None, None, None
        try:
            t = review.resolve_target(project, key)
        except StudioError as exc:
            return f"⚠️ {exc.sentence()}", [], None, None, None
        rows = episode_table(project, t.key)
        first = rows[0][0] if rows else None
        return set_summary(project, t.key), rows, first, t.key, f"{t.key}|{rows!r}"

    def _not_loaded(key, loaded_key) -> str | None:
        """Why a verdict or comment cannot be saved now (None when it can): only to the loaded set."""
        if not loaded_key:
            return "⚠️ Not saved: no rollout set is loaded. Choose one above; its episodes appear in the table."
        if not key or review.resolve_target(project, key).key != loaded_key:
            return (f"⚠️ Not saved: the table shows `{loaded_key}`, not the set chosen above. "
                    "Choose the set again so its episodes load, then save.")
        return None

    @guarded
    def on_select(rows, evt: gr.SelectData):
        try:
            r = evt.index[0]
            value = rows.iloc[r, 0] if hasattr(rows, "iloc") else rows[r][0]
            return int(value)
        except (TypeError, ValueError, IndexError, KeyError):
            return gr.update()

    @guarded
    def on_show(key, ep, other_text, progress_=gr.Progress()):
        if not key:
            raise StudioError("rollouts", "pick a rollout set or dataset first")
        if ep is None:
            raise StudioError("episode", "pick an episode (click a row of the table)")
        t = review.resolve_target(project, key)
        progress_(0.1, desc="Building the recording")
        sources: list[tuple[Any, int, str | None]] = [(str(t.root), int(ep), None)]
        extra = parse_others(project, other_text)
        if extra:
            sources[0] = (str(t.root), int(ep), f"{t.root.name}_ep{int(ep)}")
            sources += [(root or str(t.root), e, lab or f"{t.root.name}_ep{e}") for root, e, lab in extra]
        value, rec = show_episodes(project, sources)
        note = notes_markdown(rec)
        return value, str(rec.path), note, comments_markdown(project, t.key, int(ep))

    @guarded
    def on_verdict(key, ep, verdict_, progress_, comment_, loaded_key, request: gr.Request):
        from studio.auth import require

        require(ctx.auth, request, "verdict")  # team review roles (studio serve)
        refusal = _not_loaded(key, loaded_key)
        if refusal:
            return (refusal,) + (gr.skip(),) * 5
        if not key or ep is None:
            raise StudioError("review", "pick a rollout set and an episode first")
        if not verdict_:
            raise StudioError("verdict", "choose success, partial or fail")
        t = review.resolve_target(project, key)
        v = review.set_verdict(project, t.key, int(ep), verdict_,
                               progress=progress_ if verdict_ == "partial" else None,
                               author=_author(request), comment=(comment_ or None))
        msg = f"Saved: episode {v.episode_index} {v.verdict}" + (f" ({v.progress:g}%)" if v.verdict == "partial" else "")
        return (msg, "", episode_table(project, t.key), set_summary(project, t.key),
                comments_markdown(project, t.key, int(ep)), activity_markdown(project))

    @guarded
    def on_comment(key, ep, comment_, loaded_key, request: gr.Request):
        from studio.auth import require

        require(ctx.auth, request, "comment")  # team review roles (studio serve)
        refusal = _not_loaded(key, loaded_key)
        if refusal:
            return (refusal,) + (gr.skip(),) * 5
        if not key or ep is None:
            raise StudioError("review", "pick a rollout set and an episode first")
        t = review.resolve_target(project, key)
        review.add_comment(project, t.key, int(ep), _author(request), comment_)
        return (f"Comment saved on episode {int(ep)}", "", episode_table(project, t.key), set_summary(project, t.key),
                comments_markdown(project, t.key, int(ep)), activity_markdown(project))

    @guarded
    def on_register(path, ckpt, name, request: gr.Request):
        from studio.auth import require

        require(ctx.auth, request, "evaluate")  # team review roles (studio serve)
        msg = register_set(project, path, ckpt, name, _author(request))
        return msg, gr.update(choices=target_choices(project)), activity_markdown(project)

    reg_btn.click(on_register, [reg_path, reg_ckpt, reg_name], [reg_status, target, activity])
    refresh.click(on_refresh, target, [target, activity])
    # user choices only: a link or a refresh that sets the value loads (or keeps) the table itself
    target.input(on_target, target, [summary, table, episode, loaded, shown])
    play_outputs = [viewer, download, notes, comments]
    table.select(on_select, table, episode).then(on_show, [target, episode, others], play_outputs)
    show.click(on_show, [target, episode, others], play_outputs)
    review_outputs = [status, comment, table, summary, comments, activity]
    save_verdict.click(on_verdict, [target, episode, verdict, progress, comment, loaded], review_outputs)
    save_comment.click(on_comment, [target, episode, comment, loaded], review_outputs)
    if ctx.changes is not None:  # new rollout sets appear without Refresh
        ctx.changes.change(on_changes, [loaded, shown, offered], [target, activity, table, summary, shown, offered],
                           show_progress="hidden")

    @guarded
    def open_link(params):
        """`?panel=Rollouts&set=<rollout set or dataset>[&episode=N]`: choose it and load its episodes."""
        from studio.flywheel import link_int

        ref = params.get("set") or params.get("dataset") or ""
        if not ref:
            return [gr.skip()] * 8
        t = review.resolve_target(project, ref)
        summary_, rows, first, key, rows_key = on_target(t.key)
        ep = link_int(params, "episode")
        choices = target_choices(project)
        return (gr.update(choices=choices, value=t.key), summary_, rows,
                first if ep is None else ep, key, rows_key,
                comments_markdown(project, t.key, ep) if ep is not None else "", choices)

    ctx.on_link("Rollouts", open_link, [], [target, summary, table, episode, loaded, shown, comments, offered])


PANEL = Panel(name="Rollouts", build=build, order=40,
              description="Play rollouts and demonstrations in the Rerun viewer; review them")
