"""The viewer's layout without a browser: grouped plots for many-joint robots, frame 0,
episode stepping and the camera note of the Datasets panel."""

from __future__ import annotations

from studio.playback.blueprint import curve_groups, side_of
from studio.synthetic import write_synthetic_dataset

BIMANUAL = ([f"left_{j}" for j in ("shoulder_pan", "shoulder_lift", "elbow", "wrist_flex", "wrist_roll", "gripper")]
            + [f"right_{j}" for j in ("shoulder_pan", "shoulder_lift", "elbow", "wrist_flex", "wrist_roll", "gripper")]
            + [f"l_hand_finger_{i}" for i in range(10)] + [f"r_hand_finger_{i}" for i in range(2)])


def test_many_joints_are_grouped_per_side_and_role_at_most_eight_a_plot():
    groups = curve_groups(BIMANUAL)
    named = {title: [BIMANUAL[i] for i in idx] for title, idx in groups}
    assert list(named) == ["left arm", "left gripper", "left hand 1", "left hand 2", "right arm", "right gripper",
                           "right hand"]
    assert named["left arm"] == ["left_shoulder_pan", "left_shoulder_lift", "left_elbow", "left_wrist_flex",
                                 "left_wrist_roll"]
    assert len(named["left hand 1"]) == 8 and len(named["left hand 2"]) == 2
    assert sorted(i for _, idx in groups for i in idx) == list(range(len(BIMANUAL)))  # every joint, once
    assert curve_groups(["shoulder_pan.pos", "elbow_flex.pos", "gripper.pos"]) == [("arm", [0, 1]), ("gripper", [2])]
    assert (side_of("arm_r.wrist"), side_of("L_elbow"), side_of("elbow_flex")) == ("right", "left", "")


def test_recording_blueprint_opens_at_frame_0_with_grouped_plots(tmp_path):
    from studio.playback import write_recording

    root = write_synthetic_dataset(tmp_path / "bi", episodes=1, frames=20, state_names=BIMANUAL)
    rec = write_recording([(root, 0)], tmp_path / "bi.rrd")
    (lay,) = rec.episodes
    assert dict(zip((k for k, _ in lay.curves), lay.curve_names))["observation.state"] == tuple(BIMANUAL)
    from studio.playback.blueprint import default_blueprint, group_plots

    names = [v.name for v in group_plots(lay)["observation.state"]]
    assert len(names) == 7 and str(names[0]).startswith("state · left arm: left_shoulder_pan, left_shoulder_lift")
    time_panel = default_blueprint(rec.episodes).time_panel
    assert time_panel.time is not None and "0" in repr(time_panel.time)  # playback opens at frame 0


def test_datasets_episode_stepping_and_camera_note(project, tmp_path):
    from panels.datasets import cameras_markdown, neighbour_episode
    from panels.registry import AppContext
    from studio.datasets import open_dataset
    from studio.playback import cached_recording
    from studio.plugins import PluginHost

    root = write_synthetic_dataset(tmp_path / "ds", episodes=3, frames=12,
                                   videos=("observation.images.front", "observation.images.wrist"))
    for mp4 in (root / "videos" / "observation.images.wrist").rglob("*.mp4"):
        mp4.unlink()
    ds = open_dataset(root)
    assert [neighbour_episode(ds, 1, s) for s in (-1, 0, 1)] == [0, 1, 2]
    assert (neighbour_episode(ds, 0, -1), neighbour_episode(ds, 2, 1)) == (0, 2)  # clamped
    AppContext(project=project, plugins=PluginHost(load_entry_points=False))
    note = cameras_markdown(ds, cached_recording(project, [(ds, 1)]))
    assert "playing: `observation.images.front`" in note
    assert "missing `observation.images.wrist`: video file" in note
