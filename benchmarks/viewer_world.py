"""A small project for viewer screenshots and the viewer benchmark: rollout sets, a
demonstration dataset with two cameras, and a 28-joint bimanual robot (many-joint plots).

    from viewer_world import build_world, serve
"""

from __future__ import annotations

from pathlib import Path

BIMANUAL = ([f"left_{j}" for j in ("shoulder_pan", "shoulder_lift", "elbow", "wrist_flex", "wrist_roll", "wrist_yaw",
                                   "gripper")]
            + [f"right_{j}" for j in ("shoulder_pan", "shoulder_lift", "elbow", "wrist_flex", "wrist_roll", "wrist_yaw",
                                    "gripper")]
            + [f"left_hand_{f}" for f in ("thumb_0", "thumb_1", "index_0", "index_1", "middle_0", "middle_1",
                                          "ring_0")]
            + [f"right_hand_{f}" for f in ("thumb_0", "thumb_1", "index_0", "index_1", "middle_0", "middle_1",
                                           "ring_0")])


def build_world(home: Path, *, frames: int = 120, long_frames: int = 0):
    """The project: rollouts ckpt-a/ckpt-b, datasets demos (2 cameras) and bimanual (28 joints,
    one camera missing its video); `long_frames` adds datasets/long (one episode of that many)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import sim_rollout_set as sim_set

    from studio.project import open_project
    from studio.synthetic import write_synthetic_dataset

    project = open_project(home)
    sim_set(project.rollouts_dir / "ckpt-a", [17, 18, 19], frames=(frames, frames + 20, frames - 10))
    sim_set(project.rollouts_dir / "ckpt-b", [17, 18, 19], frames=(frames + 15, frames - 5, frames + 5))
    write_synthetic_dataset(project.datasets_dir / "demos", episodes=4, frames=[frames, frames + 30, frames - 20, frames],
                            videos=("observation.images.front", "observation.images.wrist"), seed=5)
    bi = write_synthetic_dataset(project.datasets_dir / "bimanual", episodes=3, frames=frames, state_names=BIMANUAL,
                                 videos=("observation.images.top", "observation.images.left_wrist"), seed=9,
                                 robot_type="bimanual_hands")
    # one camera's file is gone: the viewer plays the rest and names it
    for mp4 in (bi / "videos").rglob("*.mp4"):
        if "left_wrist" in str(mp4):
            mp4.unlink()
    if long_frames:
        write_synthetic_dataset(project.datasets_dir / "long", episodes=2, frames=long_frames,
                                videos=("observation.images.front", "observation.images.wrist"), seed=3)
    return project


def serve(project):
    """Serve the studio app in this process: (demo, url)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import free_port, wait_http

    from panels.app import build_app

    demo = build_app(project)
    port = free_port()
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                allowed_paths=[str(project.home)])
    url = f"http://127.0.0.1:{port}/"
    wait_http(url)
    return demo, url


class _Process:
    """A `studio launch` server process (what users run); close() stops it."""

    def __init__(self, proc, log):
        self.proc, self.log = proc, log

    def close(self) -> None:
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # did not stop: kill it
            self.proc.kill()
        self.log.close()


def serve_process(project):
    """Serve the studio as its own process (`python -m studio.cli launch`): (server, url)."""
    import os
    import subprocess
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import free_port, wait_http

    port = free_port()
    log = open(project.home / "launch.log", "ab")  # noqa: SIM115 - closed by _Process.close
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "launch", "--port", str(port),
                             "--project", str(project.home)],
                            cwd=Path(__file__).resolve().parents[1], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, timeout=120)
    except TimeoutError:
        _Process(proc, log).close()
        raise RuntimeError(f"the studio did not start; see {project.home / 'launch.log'}") from None
    return _Process(proc, log), url
