"""Tags, notes, catalog views and revisioned selections."""

from __future__ import annotations

import pytest

from studio.curation import selections as sel
from studio.curation import tags
from studio.datasets import open_dataset
from studio.errors import QueryError, StudioError
from studio.synthetic import write_synthetic_dataset


@pytest.fixture
def ds(tmp_path):
    root = tmp_path / "ds"
    write_synthetic_dataset(root, episodes=8, frames=50, seed=4)
    return open_dataset(root)


def test_bulk_tags_and_notes_and_views(project, ds):
    assert tags.add_tags(project, ds, [1, 2, 3], "good", author="ann") == 3
    assert tags.add_tags(project, ds, [3, 4], "good") == 1
    tags.add_tags(project, ds, [5], "bad")
    assert tags.remove_tags(project, ds, [1], "good") == 1
    tags.set_note(project, ds, 2, "gripper slips at the end")
    with pytest.raises(StudioError):
        tags.add_tags(project, ds, [99], "good")
    with pytest.raises(StudioError):
        tags.add_tags(project, ds, [1], "not a tag!")
    assert tags.tags_by_episode(project, ds) == {2: ["good"], 3: ["good"], 4: ["good"], 5: ["bad"]}

    from studio.query import catalog_for

    cat = catalog_for(ds, project)
    got = cat.sql("SELECT episode_index FROM tags WHERE tag = 'good' ORDER BY 1").df["episode_index"].tolist()
    assert got == [2, 3, 4]
    notes = cat.sql("SELECT note FROM notes WHERE episode_index = 2").df["note"].tolist()
    assert notes == ["gripper slips at the end"]
    m = cat.sql("SELECT episode_index, jerk, quality_score FROM metrics ORDER BY quality_score DESC").df
    assert len(m) == 8 and m["quality_score"].is_monotonic_decreasing
    # tagging from a query result, then the view follows
    tags.add_tags(project, ds, m["episode_index"].head(2), "top2")
    assert len(cat.sql("SELECT * FROM tags WHERE tag = 'top2'").df) == 2


def test_selection_revisions_and_resolution(project, ds):
    tags.add_tags(project, ds, [0, 1, 2, 6], "good")
    s1 = sel.save_selection(project, "smooth", ds, predicate="episode_index < 5", excludes=[1], includes=[7],
                            tags=["good"], note="first", author="ann")
    assert s1.revision == 1
    assert sel.resolve_selection(s1, ds, project).episodes == (0, 2, 7)
    s2 = sel.save_selection(project, "smooth", ds, predicate="quality_pct > 50", note="by score")
    assert s2.revision == 2
    history = sel.history(project, "smooth")
    assert [h.revision for h in history] == [1, 2] and history[0].note == "first"
    assert sel.get_selection(project, "smooth", 1).excludes == (1,)
    res = sel.resolve_selection(sel.get_selection(project, "smooth"), ds, project)
    assert len(res.episodes) == 4 and res.summary()["share_episodes"] == 0.5
    assert res.frames == 200 and res.hours == pytest.approx(200 / ds.fps / 3600)
    assert [s.label for s in sel.list_selections(project)] == ["smooth-r2"]
    # predicates over tags, and a bad predicate is one sentence
    assert sel.resolve(ds, project, predicate="list_contains(tags, 'good') AND jerk IS NOT NULL").episodes == (0, 1, 2, 6)
    with pytest.raises(QueryError):
        sel.save_selection(project, "broken", ds, predicate="no_such_column > 1")
    with pytest.raises(QueryError):
        sel.resolve(ds, project, predicate="1=1; DROP VIEW tags")
    with pytest.raises(QueryError):
        sel.resolve(ds, project, predicate="episode_index IN (SELECT 1 FROM read_csv('/etc/passwd'))")
    with pytest.raises(StudioError):
        sel.save_selection(project, "bad name", ds)


def test_selection_refuses_a_changed_dataset(project, ds, tmp_path):
    s = sel.save_selection(project, "all", ds)
    other_root = tmp_path / "other"
    write_synthetic_dataset(other_root, episodes=8, frames=50, seed=5)
    with pytest.raises(StudioError, match="changed"):
        sel.resolve_selection(s, open_dataset(other_root), project)


def test_notes_keep_every_revision(project, ds):
    """Two people write the same note: the last writer wins the note, nobody's text is lost."""
    tags.set_note(project, ds, 1, "slow start", author="ana")
    tags.set_note(project, ds, 1, "fine after all", author="bo")
    tags.set_note(project, ds, 1, "", author="cy")
    assert tags.notes_frame(project, ds).query("episode_index == 1").empty
    history = tags.note_history(project, ds, 1)
    assert [(h["note"], h["author"]) for h in history] == [("slow start", "ana"), ("fine after all", "bo"), ("", "cy")]
    assert history[0]["at"] <= history[1]["at"] <= history[2]["at"]
