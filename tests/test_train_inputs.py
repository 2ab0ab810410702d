"""Training on any LeRobot dataset: v2.1, renamed keys, absent videos, real video (issue 14).

Every dataset is built here with `studio.synthetic` in the shapes real recordings come in
(Unitree G1: v2.1 with nested names and no stats.json; a bimanual v3.0 keyed
`actions`/`state`/`image` with its videos absent). Trainings are real lerobot runs of a
few steps; each costs ~30-60 s on a loaded 2-core machine, so only one is in the default
suite and the rest are marked slow.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio import featuremap, jobs
from studio.errors import JobError, StudioError

ROOT = Path(__file__).resolve().parents[1]
G1_CAMS = ["observation.images.cam_high", "observation.images.cam_left"]
BI_RENAME = {"action": "actions", "observation.state": "state", "observation.images.front": "image"}


def _cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    full = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full)


def _cli_here(capsys, *args: str) -> tuple[int, str]:
    """The CLI in this process (same code path as the `studio` command; no interpreter start-up)."""
    from studio.cli import main

    capsys.readouterr()
    rc = main(list(args))
    return rc, capsys.readouterr().err


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def g1(tmp_path_factory) -> Path:
    """v2.1, nested `[[...]]` names, two cameras with episode 1's videos absent, no stats.json."""
    from studio.synthetic import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("real") / "g1_inspire", version="v2.1", episodes=4,
                                   frames=30, names_style="nested", environment_state=False, videos=G1_CAMS,
                                   missing_videos=[1], stats_json=False, robot_type="unitree_g1")


@pytest.fixture(scope="module")
def bimanual(tmp_path_factory) -> Path:
    """v3.0 keyed actions/state/image; the camera is declared but its video file is absent."""
    from studio.synthetic import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("real") / "bimanual", episodes=3, frames=30,
                                   environment_state=False, videos=["observation.images.front"],
                                   rename=BI_RENAME, missing_videos="all", seed=2)


def test_v21_stats_in_episodes_stats_jsonl_is_not_a_problem(g1):
    from studio.datasets import open_dataset

    ds = open_dataset(g1)
    assert not (g1 / "meta" / "stats.json").exists() and (g1 / "meta" / "episodes_stats.jsonl").exists()
    assert not [p for p in ds.problems if "stats" in p.where]
    assert {p.where for p in ds.problems} == set(G1_CAMS)  # the absent videos are real problems


def test_feature_map_is_proposed_overridden_and_saved_per_dataset(project, g1, bimanual):
    from studio.datasets import open_dataset

    ds = open_dataset(bimanual)
    assert featuremap.propose(ds) == {"actions": "action", "state": "observation.state",
                                      "image": "observation.images.image"}
    g = open_dataset(g1)
    assert featuremap.propose(g)["action"] == "action" and set(G1_CAMS) <= set(featuremap.propose(g))
    # an override replaces the proposal for its target
    assert featuremap.resolve(ds, {"state": "-"}) == {"actions": "action", "image": "observation.images.image"}
    assert featuremap.resolve(ds, {"image": "observation.images.top"})["image"] == "observation.images.top"
    with pytest.raises(StudioError, match="is a camera and cannot become 'action'"):
        featuremap.resolve(ds, {"image": "action"})
    # no state, no camera: ACT has nothing to look at, refused before queueing
    with pytest.raises(JobError, match="needs 'observation.environment_state' or a camera image"):
        jobs.validate(project, dataset=str(bimanual), steps=5, cameras="none", feature_map="state=-")
    assert featuremap.saved(project, ds) == {}  # a refused spec saves nothing
    # a confirmed map is saved for that dataset only and used next time
    spec = jobs.validate(project, dataset=str(bimanual), steps=5, cameras="none",
                         feature_map="image=observation.images.top")
    assert featuremap.saved(project, ds) == {"image": "observation.images.top"}
    assert featuremap.saved(project, g) == {}
    with pytest.raises(JobError, match="camera 'image' has no video"):  # the saved name picks the camera
        jobs.validate(project, dataset=str(bimanual), steps=5, cameras="observation.images.top")
    assert featuremap.for_dataset(project, ds)["observation.images.top"] == "image"
    assert spec.inputs["feature_map"] == {"actions": "action", "state": "observation.state"}
    featuremap.save(project, ds, {})


def test_datasets_overview_shows_what_each_feature_trains_as(project, bimanual):
    from panels.datasets import overview_markdown
    from studio.datasets import open_dataset

    ds = open_dataset(bimanual)
    md = overview_markdown(ds, project)
    assert "| `actions` | `action` |" in md and "| `state` | `observation.state` |" in md
    assert "| `image` | `observation.images.image` |" in md
    featuremap.save(project, ds, {"image": "observation.images.top", "state": "-"})
    md = overview_markdown(ds, project)  # the confirmed map, not the proposal
    assert "| `image` | `observation.images.top` |" in md and "| `state` | – |" in md
    featuremap.save(project, ds, {})


def test_state_only_preview_says_state_is_fed_as_environment_state(project, bimanual):
    from studio.jobs.spec import preview

    spec = jobs.validate(project, dataset=str(bimanual), policy="act", steps=5, cameras="none")
    assert spec.inputs["state_as_env"] and spec.inputs["cameras"] == []
    assert spec.inputs["feature_map"] == {"actions": "action", "state": "observation.state"}
    text = preview(spec)
    assert f"--dataset.root={spec.train_root}" in text and "--policy.type=act" in text
    assert "also fed as observation.environment_state" in text
    assert "actions → action" in text
    assert Path(spec.train_root).is_relative_to(project.home / "cache" / "train-inputs")
    assert not Path(spec.train_root).exists()  # the job converts, not the submit


def test_absent_videos_are_refused_before_queueing_naming_the_camera(project, g1, bimanual, capsys):
    for ds, camera, scope in ((g1, G1_CAMS[0], "episode 1"), (bimanual, "image", "any episode")):
        rc, err = _cli_here(capsys, "train", str(ds), "--policy", "act", "--steps", "5", "--project", str(project.home))
        assert rc == 2, err
        line = err.strip()
        assert "\n" not in line and "Traceback" not in line
        assert line.startswith("error: --cameras: camera ") and f"'{camera}'" in line and scope in line
        assert "--cameras none" in line and "--episodes" in line
    # episodes that avoid the hole are accepted without dropping the camera
    spec = jobs.validate(project, dataset=str(g1), steps=5, episodes="2-3")
    assert spec.inputs["cameras"] == G1_CAMS and spec.inputs["episodes"] == [2, 3]
    listed = _cli("jobs", "list", "--json", "--project", str(project.home))
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_bad_inputs_get_one_sentence_exit_2_and_nothing_queued(project, g1, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cases = [
        (["--map", "action=observation.wat"], "error: --map: 'observation.wat' is not a lerobot feature"),
        (["--map", "velocity=action"], "error: --map: 'velocity' is not a feature of g1_inspire"),
        (["--cameras", "wrist"], "error: --cameras: 'wrist' is not a camera of g1_inspire"),
        (["--cameras", "none", "--image-size", "8"], "error: --image-size: must be a whole number of 16 pixels"),
        (["--cameras", "none", "--episodes", "9-3"], "error: --episodes: '9-3' selects no episodes"),
        (["--cameras", "none", "--episodes", "2-40"], "error: --episodes: episode 4 is not in g1_inspire"),
        (["--cameras", "none", "--push-to-hub", "me/policy"], "error: --push-to-hub: the Hugging Face Hub cannot be reached"),
    ]
    for extra, start in cases:
        rc, err = _cli_here(capsys, "train", str(g1), "--steps", "5", *extra, "--project", str(project.home))
        assert rc == 2, (extra, err)
        assert err.startswith(start), (extra, err)
        assert err.count("\n") == 1 and "Traceback" not in err
    assert jobs.list_jobs(project) == []


def test_repo_id_opens_offline_from_hf_lerobot_home(tmp_path, project):
    from studio.datasets import list_lerobot_home, lerobot_home, open_dataset
    from studio.synthetic import write_synthetic_dataset

    home = tmp_path / "lerobot-home"
    write_synthetic_dataset(home / "alice" / "so101_pick", episodes=2, frames=20)
    env = {"HF_LEROBOT_HOME": str(home), "HF_HOME": str(tmp_path / "empty-hf")}
    out = _cli("info", "alice/so101_pick", "--json", env=env)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["total_episodes"] == 2 and info["root"] == str((home / "alice" / "so101_pick").resolve())
    missing = _cli("info", "alice/not_here", env=env)
    assert missing.returncode == 2 and f"neither in lerobot's home ({home})" in missing.stderr

    old = os.environ.get("HF_LEROBOT_HOME")
    os.environ["HF_LEROBOT_HOME"] = str(home)
    try:
        assert lerobot_home() == home and list_lerobot_home() == ["alice/so101_pick"]
        assert open_dataset("alice/so101_pick").repo_id == "alice/so101_pick"
        spec = jobs.validate(project, dataset="alice/so101_pick", steps=5)
        assert spec.dataset == str((home / "alice" / "so101_pick").resolve()) and spec.train_root is None
        from panels.train import dataset_choices

        assert "alice/so101_pick" in dataset_choices(project)  # the Train picker …
        from panels.datasets import source_choices
        from panels.registry import AppContext

        assert "alice/so101_pick" in source_choices(AppContext(project=project, plugins=None))  # … and Datasets
    finally:
        if old is None:
            os.environ.pop("HF_LEROBOT_HOME")
        else:
            os.environ["HF_LEROBOT_HOME"] = old


def test_v21_with_nested_names_trains_state_only_without_an_export(project, g1):
    before = _tree_digest(g1)
    out = _cli("train", str(g1), "--policy", "act", "--steps", "5", "--batch-size", "4", "--save-freq", "5",
               "--cameras", "none", "--wait", "--project", str(project.home))
    assert out.returncode == 0, out.stdout + out.stderr
    (job,) = jobs.list_jobs(project)
    assert job.state == jobs.SUCCEEDED
    assert job.spec["inputs"]["feature_map"] == {"action": "action", "observation.state": "observation.state"}
    assert job.spec["inputs"]["state_as_env"] is True
    cks = jobs.list_checkpoints(project, job_id=job.id)
    assert [c.step for c in cks] == [5]
    cfg = json.loads((Path(cks[0].pretrained_dir) / "config.json").read_text())
    assert set(cfg["input_features"]) == {"observation.state", "observation.environment_state"}
    assert cfg["output_features"]["action"]["shape"] == [6]
    work = Path(job.spec["train_root"])
    info = json.loads((work / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == 4
    assert info["features"]["action"]["names"][0] == "shoulder_pan.pos"  # nested names flattened
    prov = json.loads((work / "provenance.json").read_text())
    assert prov["feature_map"] == job.spec["inputs"]["feature_map"] and prov["state_as_environment_state"]
    assert _tree_digest(g1) == before  # the source is only read
    assert not list(project.selections_dir.iterdir())  # no export detour
    # the same choice reuses the converted folder
    assert jobs.validate(project, dataset=str(g1), steps=7, cameras="none").train_root == str(work)

    # a checkpoint whose action size differs from a dataset's is refused before queueing
    from studio.synthetic import write_synthetic_dataset

    seven = write_synthetic_dataset(project.home / "seven", episodes=2, frames=20,
                                    state_names=[f"j{i}" for i in range(7)])
    with pytest.raises(JobError, match="actions of size 6 but this dataset's action has size 7"):
        jobs.validate(project, dataset=str(seven), steps=3, init_from=cks[0].pretrained_dir)
    assert len(jobs.list_jobs(project)) == 1


@pytest.mark.slow
def test_v30_keyed_actions_state_trains_state_only(project, bimanual):
    out = _cli("train", str(bimanual), "--policy", "act", "--steps", "5", "--batch-size", "4", "--save-freq", "5",
               "--cameras", "none", "--wait", "--project", str(project.home))
    assert out.returncode == 0, out.stdout + out.stderr
    (job,) = jobs.list_jobs(project)
    assert [c.step for c in jobs.list_checkpoints(project, job_id=job.id)] == [5]
    assert job.spec["inputs"]["feature_map"] == {"actions": "action", "state": "observation.state"}


@pytest.mark.slow
def test_v21_episodes_10_19_at_96_px_trains_act_on_real_video_frames(project, tmp_path):
    import av

    from studio.synthetic import write_synthetic_dataset

    ds = write_synthetic_dataset(tmp_path / "v21_video", version="v2.1", episodes=20, frames=12,
                                 environment_state=False, videos=["observation.images.front"], stats_json=False)
    out = _cli("train", str(ds), "--policy", "act", "--steps", "3", "--batch-size", "4", "--save-freq", "3",
               "--episodes", "10-19", "--image-size", "96", "--wait", "--project", str(project.home))
    assert out.returncode == 0, out.stdout + out.stderr
    (job,) = jobs.list_jobs(project)
    (ck,) = jobs.list_checkpoints(project, job_id=job.id)
    cfg = json.loads((Path(ck.pretrained_dir) / "config.json").read_text())
    assert cfg["input_features"]["observation.images.front"]["shape"] == [3, 96, 128]
    work = Path(job.spec["train_root"])
    info = json.loads((work / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 10 and info["total_frames"] == 120
    videos = sorted((work / "videos" / "observation.images.front").rglob("*.mp4"))
    with av.open(str(videos[0])) as c:
        frame = next(c.decode(video=0))
        assert (frame.height, frame.width) == (96, 128)
    stats = json.loads((work / "meta" / "stats.json").read_text())
    assert len(stats["observation.images.front"]["mean"]) == 3  # camera stats of the written frames
    prov = json.loads((work / "provenance.json").read_text())
    assert prov["episode_map"]["10"] == 0 and prov["image_size"] == 96


@pytest.mark.slow
def test_from_a_lerobot_train_output_folder_made_outside_the_studio(project, tmp_path):
    from studio.jobs.spec import JobSpec, lerobot_args
    from studio.synthetic import write_synthetic_dataset

    ds = write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=30)
    external = tmp_path / "outputs" / "train" / "my_act"
    args = lerobot_args(JobSpec(dataset=str(ds), steps=2, save_freq=2, batch_size=4), external, offline=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "lerobot.scripts.lerobot_train", *args], capture_output=True,
                         text=True, timeout=600, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (external / "checkpoints" / "last" / "pretrained_model" / "model.safetensors").exists()

    out = _cli("train", str(ds), "--policy", "act", "--steps", "2", "--batch-size", "4", "--from", str(external),
               "--wait", "--project", str(project.home))
    assert out.returncode == 0, out.stdout + out.stderr
    (job,) = jobs.list_jobs(project)
    start = (external / "checkpoints" / "last" / "pretrained_model").resolve()
    assert job.spec["init_from"] == str(start)
    final = jobs.final_checkpoint(project, job)
    cfg = json.loads((final.pretrained_dir / "train_config.json").read_text())
    assert cfg["policy"]["pretrained_path"] == str(start)

    # resume the external run itself: step, optimizer and config continue, in this job's folder
    before = _tree_digest(external)
    out = _cli("train", str(ds), "--policy", "act", "--steps", "4", "--save-freq", "4", "--from", str(external),
               "--resume", "--wait", "--project", str(project.home))
    assert out.returncode == 0, out.stdout + out.stderr
    job = jobs.list_jobs(project)[0]
    steps = [r["step"] for r in jobs.step_records(jobs.read_metrics(job.metrics_path))]
    assert steps == [3, 4]  # continued after the run's 2 steps
    assert sorted(c.step for c in jobs.list_checkpoints(project, job_id=job.id)) == [2, 4]
    cfg = json.loads((jobs.final_checkpoint(project, job).pretrained_dir / "train_config.json").read_text())
    assert cfg["steps"] == 4 and cfg["output_dir"] == str(job.output_dir)
    assert _tree_digest(external) == before  # the external run is only read
    with pytest.raises(JobError, match="has done 2 steps already"):
        jobs.validate(project, dataset=str(ds), steps=2, init_from=str(external), resume=True)


def test_push_to_hub_online_asks_lerobot_to_push(tmp_path):
    from studio.jobs.spec import JobSpec, lerobot_args

    spec = JobSpec(dataset=str(tmp_path), steps=5, push_to_hub="alice/act_so101")
    online = lerobot_args(spec, tmp_path / "o", offline=False)
    assert "--policy.push_to_hub=true" in online and "--policy.repo_id=alice/act_so101" in online
    assert "--policy.push_to_hub=false" in lerobot_args(spec, tmp_path / "o", offline=True)


def test_concurrent_jobs_share_one_converted_folder(project, g1):
    from concurrent.futures import ThreadPoolExecutor

    from studio.jobs.inputs import materialize

    spec = jobs.validate(project, dataset=str(g1), steps=5, cameras="none", episodes="0,2")
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda _: materialize(spec.inputs), range(2)))
    assert paths == [Path(spec.train_root)] * 2
    info = json.loads((Path(spec.train_root) / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 2 and "observation.environment_state" in info["features"]
    assert not [p for p in Path(spec.train_root).parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_episodes_with_a_selection_are_its_episodes_among_them(project, tmp_path):
    from studio.curation.selections import save_selection
    from studio.datasets import open_dataset
    from studio.synthetic import write_synthetic_dataset

    ds = write_synthetic_dataset(tmp_path / "four", episodes=4, frames=20)
    save_selection(project, "no-one", open_dataset(ds), excludes=[1])
    spec = jobs.validate(project, dataset="no-one", steps=5, episodes="1-2")
    assert spec.selection == "no-one" and spec.inputs["episodes"] == [1]  # source episode 2 = export episode 1
    with pytest.raises(JobError, match="none of episodes 1 are in selection 'no-one'"):
        jobs.validate(project, dataset="no-one", steps=5, episodes="1")


@pytest.mark.slow
def test_diffusion_trains_on_small_camera_frames(project, g1):
    out = _cli("train", str(g1), "--policy", "diffusion", "--steps", "3", "--batch-size", "4", "--save-freq", "3",
               "--episodes", "0,2-3", "--image-size", "32", "--wait", "--project", str(project.home))
    assert out.returncode == 0, out.stdout + out.stderr
    (job,) = jobs.list_jobs(project)
    (ck,) = jobs.list_checkpoints(project, job_id=job.id)
    cfg = json.loads((Path(ck.pretrained_dir) / "config.json").read_text())
    assert cfg["type"] == "diffusion"
    assert {k: v["shape"] for k, v in cfg["input_features"].items() if "images" in k} == {
        cam: [3, 32, 42] for cam in G1_CAMS}


def test_confirmed_map_names_the_features_curation_metrics_use(project, tmp_path):
    from studio.curation.score import scored_metrics
    from studio.datasets import open_dataset
    from studio.synthetic import write_synthetic_dataset

    ds_path = write_synthetic_dataset(tmp_path / "odd", episodes=3, frames=30,
                                      rename={"action": "cmd_q", "observation.state": "obs_q",
                                              "observation.environment_state": "cube"})
    ds = open_dataset(ds_path)
    with pytest.raises(JobError, match="no action feature the studio recognises"):
        jobs.validate(project, dataset=str(ds_path), steps=5)
    jobs.validate(project, dataset=str(ds_path), steps=5,
                  feature_map="cmd_q=action,obs_q=observation.state,cube=observation.environment_state")
    sm = scored_metrics(ds, project)
    assert (sm.command_key, sm.motion_key) == ("cmd_q", "obs_q")
