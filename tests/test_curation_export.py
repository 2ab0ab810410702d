"""Export of selections as LeRobot v3.0 datasets, and the curation CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.cli import main
from studio.curation import export as ex
from studio.curation import selections as sel
from studio.datasets import open_dataset
from studio.errors import StudioError
from studio.synthetic import write_synthetic_dataset

VIDEO = "observation.images.top"


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def video_ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("src") / "ds"
    write_synthetic_dataset(root, episodes=6, frames=[30, 40, 25, 35, 30, 20], videos=[VIDEO], seed=7)
    return open_dataset(root)


def test_export_subset_loads_in_lerobot_and_source_unchanged(video_ds, project, tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    before = _digest(video_ds.root)
    s = sel.save_selection(project, "keep", video_ds, predicate="episode_index NOT IN (1, 4)", note="drop two")
    out = ex.ensure_export(project, "keep")
    assert out == project.selections_dir / "keep-r1"
    assert ex.ensure_export(project, "keep") == out  # second call reuses it
    assert _digest(video_ds.root) == before

    prov = json.loads((out / "provenance.json").read_text())
    assert prov["source"]["fingerprint"] == video_ds.fingerprint
    assert prov["selection"]["revision"] == s.revision
    assert prov["episode_map"] == {"0": 0, "2": 1, "3": 2, "5": 3}

    new = LeRobotDataset("local/keep", root=out, video_backend="pyav")
    assert new.num_episodes == 4 and new.num_frames == 30 + 25 + 35 + 20
    src = LeRobotDataset("local/src", root=video_ds.root, video_backend="pyav")
    # frame 10 of old episode 3 is frame 10 of new episode 2, state and picture alike
    old_i = 30 + 40 + 25 + 10
    new_i = 30 + 25 + 10
    a, b = src[old_i], new[new_i]
    assert int(b["episode_index"]) == 2 and int(b["index"]) == new_i
    assert np.allclose(a["observation.state"].numpy(), b["observation.state"].numpy())
    assert np.abs(a[VIDEO].numpy() - b[VIDEO].numpy()).mean() < 0.03
    # stats are those of the kept frames, not of the source
    data = np.concatenate([np.stack(new.hf_dataset["observation.state"])])
    stats = json.loads((out / "meta/stats.json").read_text())
    assert np.allclose(stats["observation.state"]["mean"], data.mean(axis=0), atol=1e-4)
    assert stats["observation.state"]["count"] == [len(data)]
    assert VIDEO in stats


def test_export_copy_mode_and_errors(video_ds, tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    out = ex.export_episodes(video_ds, [4, 1], tmp_path / "copy", videos="copy")
    new = LeRobotDataset("local/copy", root=out, video_backend="pyav")
    assert new.num_episodes == 2 and int(new[0]["episode_index"]) == 0
    with pytest.raises(StudioError):
        ex.export_episodes(video_ds, [], tmp_path / "empty")
    with pytest.raises(StudioError):
        ex.export_episodes(video_ds, [0], out)  # exists
    with pytest.raises(StudioError):
        ex.export_episodes(video_ds, [0], video_ds.root / "inside")


def test_export_killed_midway_leaves_nothing(video_ds, tmp_path):
    target = tmp_path / "killed"
    code = f"""
import sys, time
from studio.datasets import open_dataset
from studio.curation.export import export_episodes
ds = open_dataset({str(video_ds.root)!r})
def progress(f, m):
    if f > 0.46:
        print("midway", flush=True)
        time.sleep(60)
export_episodes(ds, [0, 2, 3], {str(target)!r}, progress=progress)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "midway"
        partial = list(tmp_path.glob(".killed.partial-*"))
        assert partial and any(partial[0].rglob("*.parquet"))  # it really was writing
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not target.exists()
    # a new export to the same target succeeds, and removes the killed one's hidden partial folder
    ex.export_episodes(video_ds, [0], target)
    assert (target / "meta/info.json").exists()
    assert not list(tmp_path.glob(".killed.partial-*"))


def test_live_exports_partial_folder_is_left_alone(tmp_path):
    from studio.fsutil import atomic_directory, clean_stale_partials

    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "x").write_text("writing")
        assert clean_stale_partials(target) == [] and tmp.exists()  # our own, still being written
    assert (target / "x").exists()


def test_export_to_an_unwritable_place_is_one_sentence(video_ds, tmp_path, capsys):
    assert main(["export", str(video_ds.root), "--out", "/proc/x", "--project", str(tmp_path / "home")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: /proc/") and "internal error" not in err


def test_cli_metrics_json_and_export_where(video_ds, tmp_path, capsys):
    home = str(tmp_path / "home")
    assert main(["metrics", str(video_ds.root), "--json", "--project", home]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 6 and {"episode_index", "quality_score", "jerk", "sparc"} <= set(records[0])
    assert main(["metrics", str(video_ds.root), "--weight", "bogus=1", "--project", home]) == 2
    assert "unknown metric 'bogus'" in capsys.readouterr().err
    assert main(["tag", str(video_ds.root), "good", "--episodes", "0,2-3", "--project", home]) == 0
    out = tmp_path / "cli_out"
    rc = main(["export", str(video_ds.root), "--where", "list_contains(tags, 'good') AND episode_index > 0",
               "--out", str(out), "--project", home])
    assert rc == 0
    capsys.readouterr()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["episode_map"] == {"2": 0, "3": 1}
    assert prov["feature_map"]["action"] == "action"  # the dataset's feature map travels with the export
    assert main(["export", str(video_ds.root), "--where", "nope >", "--out", str(tmp_path / "x"), "--project", home]) == 2
    assert capsys.readouterr().err.startswith("error: --where:")
    assert main(["selections", "save", "good", str(video_ds.root), "--tag", "good", "--project", home]) == 0
    assert main(["export", "--selection", "good", "--episode-list", "--project", home]) == 0
    listing = json.loads((Path(home) / "selections" / "good-r1.json").read_text())
    assert listing["episodes"] == [0, 2, 3] and "--dataset.episodes=[0,2,3]" in listing["lerobot_train_args"]
    assert main(["export", "--selection", "good", "--format", "nope", "--project", home]) == 2
    assert "unknown export format 'nope'" in capsys.readouterr().err


def test_push_to_hub_offline_is_one_sentence(video_ds, tmp_path, monkeypatch):
    out = ex.export_episodes(video_ds, [0], tmp_path / "push")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(StudioError, match="HF_HUB_OFFLINE"):
        ex.push_to_hub(out, "someone/curated")


# huggingface_hub reads HF_ENDPOINT once, at import: each push runs in a fresh interpreter.
PUSH = """
import sys
from studio.curation.export import push_to_hub
from studio.errors import StudioError
try:
    push_to_hub(sys.argv[1], "someone/curated")
except StudioError as exc:
    print("SENTENCE", exc.sentence())
    sys.exit(2)
print("PUSHED")
"""


def _push_in_fresh_process(out: Path, endpoint: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(out.parent / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1")
    return subprocess.run([sys.executable, "-c", PUSH, str(out)], capture_output=True, text=True, timeout=120, env=env)


def test_push_to_an_unreachable_hub_is_one_sentence(video_ds, tmp_path):
    from helpers import free_port

    out = ex.export_episodes(video_ds, [0], tmp_path / "push")
    proc = _push_in_fresh_process(out, f"http://127.0.0.1:{free_port()}")  # nothing listens: like being offline
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("SENTENCE")]
    assert "cannot reach the Hugging Face Hub" in line and str(out) in line
    assert "Traceback" not in proc.stderr


def test_push_goes_to_the_configured_endpoint_and_a_refusal_is_one_sentence(video_ds, tmp_path):
    import http.server
    import threading

    seen: list[tuple[str, str]] = []

    class Refuse(http.server.BaseHTTPRequestHandler):
        def _refuse(self):
            seen.append((self.command, self.path))
            body = b'{"error": "Invalid credentials"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_HEAD = _refuse

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = ex.export_episodes(video_ds, [0], tmp_path / "push")
        proc = _push_in_fresh_process(out, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ("POST", "/api/repos/create") in seen  # huggingface_hub used HF_ENDPOINT, not the real Hub
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("SENTENCE")]
    assert "the Hub refused the upload" in line


def test_lerobot_train_runs_on_export(tmp_path):
    root = tmp_path / "src"
    write_synthetic_dataset(root, episodes=6, frames=30, videos=[VIDEO], seed=8)
    ds = open_dataset(root)
    out = ex.export_episodes(ds, [0, 2, 3, 5], tmp_path / "curated")
    train = Path(sys.executable).parent / "lerobot-train"
    cmd = [str(train), "--dataset.repo_id=local/curated", f"--dataset.root={out}", f"--output_dir={tmp_path / 'run'}",
           "--policy.type=act", "--policy.dim_model=64", "--policy.n_heads=2", "--policy.dim_feedforward=256",
           "--policy.chunk_size=10", "--policy.n_action_steps=10", "--policy.n_encoder_layers=1",
           "--policy.n_decoder_layers=1", "--policy.use_vae=false", "--policy.push_to_hub=false",
           "--policy.device=cpu", "--dataset.video_backend=pyav", "--policy.pretrained_backbone_weights=null",
           "--steps=5", "--batch_size=4", "--num_workers=0", "--wandb.enable=false", "--save_checkpoint=false"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_export_from_a_v21_dataset_is_v30(tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = tmp_path / "old"
    write_synthetic_dataset(root, episodes=3, frames=20, version="v2.1", videos=[VIDEO], seed=3)
    out = ex.export_episodes(open_dataset(root), [0, 2], tmp_path / "new")
    assert json.loads((out / "meta/info.json").read_text())["codebase_version"] == "v3.0"
    new = LeRobotDataset("local/new", root=out, video_backend="pyav")
    assert new.num_episodes == 2 and int(new[25]["episode_index"]) == 1
    assert tuple(new[25][VIDEO].shape) == (3, 48, 64)


def test_export_decodes_with_lerobots_default_decoder_and_pyav(video_ds, tmp_path):
    """What `lerobot-train` does by hand on an export: the default decoder (torchcodec, on the
    FFmpeg libraries the bootstrap installs) and PyAV read the same pictures as the source."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    out = ex.export_episodes(video_ds, [1, 4], tmp_path / "two")
    default = LeRobotDataset("local/two", root=out)
    assert default.video_backend == "torchcodec"
    pyav = LeRobotDataset("local/two", root=out, video_backend="pyav")
    src = LeRobotDataset("local/src", root=video_ds.root, video_backend="pyav")
    assert default.num_frames == 40 + 30
    # new episode 1 is old episode 4: frame 7 of it, decoded three ways
    new_i, old_i = 40 + 7, 30 + 40 + 25 + 35 + 7
    a, b, c = default[new_i][VIDEO].numpy(), pyav[new_i][VIDEO].numpy(), src[old_i][VIDEO].numpy()
    assert a.shape == b.shape == c.shape and a.std() > 0.01
    assert np.abs(a - b).max() < 0.02
    assert np.abs(a - c).mean() < 0.03
