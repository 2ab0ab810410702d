"""`pick_cube`: gym-hil's MuJoCo Panda pick-cube scene as a deterministic, seeded task.

Observations follow gym-hil: `agent_pos` (18: joint positions 7, joint velocities 7, gripper
command 0..255, pinch-point xyz 3) recorded as `observation.state`, and `environment_state`
(cube xyz) recorded as `observation.environment_state`. Actions are end-effector deltas
`[dx, dy, dz, grasp]` in metres per step and a gripper command in [-1, 1] (gym-hil's action
is `[dx, dy, dz, rx, ry, rz, grasp]`; it ignores the rotation, so it is not recorded).

Progress stages per step: *reached* (pinch point within 3 cm of the cube), *grasped* (both
finger pads touch the cube), *lifted* (cube raised `LIFT_SUCCESS` above its resting height
= success). Progress = max so far of (reached + grasped + lift fraction if grasped) / 3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.sim import ensure_gl

ENV_NAME = "pick_cube"
ENV_VERSION = 1
FPS = 10  # gym-hil's control_dt = 0.1 s
# 250 Hz physics (gym-hil's default is 500 Hz): ~2.5x less CPU per step with the same grasp
# behaviour (operator success rates unchanged); it keeps the 150-episode demo world in budget.
PHYSICS_DT = 0.004
MAX_STEPS = 150  # 15 s per episode at most
LIFT_SUCCESS = 0.1  # metres above the resting height (gym-hil's sparse-reward threshold)
REACH_DIST = 0.03
TASK = "Pick up the cube and lift it."
ROBOT_TYPE = "panda"
# Cube start positions (x, y) are drawn in this box (gym-hil's sampling bounds).
SAMPLING_BOUNDS = np.asarray([[0.3, -0.15], [0.5, 0.15]])

STATE_NAMES = (
    [f"joint{i}.pos" for i in range(1, 8)]
    + [f"joint{i}.vel" for i in range(1, 8)]
    + ["gripper.cmd", "tcp.x", "tcp.y", "tcp.z"]
)
ENV_STATE_NAMES = ["cube.x", "cube.y", "cube.z"]
ACTION_NAMES = ["dx", "dy", "dz", "grasp"]
CAMERAS = ("front", "wrist")
CAMERA_SIZE = (96, 96)  # (height, width): offscreen OSMesa rendering is slow; keep it small


def features(cameras: bool = False, *, outcomes: bool = False) -> dict:
    """LeRobot feature spec of a pick_cube recording."""
    feats: dict = {
        "observation.state": {"dtype": "float32", "shape": (len(STATE_NAMES),), "names": list(STATE_NAMES)},
        "observation.environment_state": {
            "dtype": "float32",
            "shape": (len(ENV_STATE_NAMES),),
            "names": list(ENV_STATE_NAMES),
        },
        "action": {"dtype": "float32", "shape": (len(ACTION_NAMES),), "names": list(ACTION_NAMES)},
    }
    if cameras:
        h, w = CAMERA_SIZE
        for cam in CAMERAS:
            feats[f"observation.images.{cam}"] = {
                "dtype": "video",
                "shape": (h, w, 3),
                "names": ["height", "width", "channels"],
            }
    if outcomes:
        feats["next.reward"] = {"dtype": "float32", "shape": (1,), "names": None}
        feats["next.success"] = {"dtype": "bool", "shape": (1,), "names": None}
    return feats


@dataclass(frozen=True)
class StepInfo:
    reached: bool
    grasped: bool
    lift: float  # metres above the resting height
    success: bool
    progress: float  # max so far, in [0, 1]
    out_of_bounds: bool

    @property
    def done(self) -> bool:
        return self.success or self.out_of_bounds


class PickCubeEnv:
    """One MuJoCo scene; `reset(seed)` places the cube deterministically from the seed."""

    name = ENV_NAME

    def __init__(self, cameras: bool = False):
        ensure_gl()
        from gym_hil.envs import PandaPickCubeGymEnv
        from gym_hil.mujoco_gym_env import GymRenderingSpec

        h, w = CAMERA_SIZE
        self.cameras = bool(cameras)
        self._env = PandaPickCubeGymEnv(
            render_spec=GymRenderingSpec(height=h, width=w), random_block_position=True,
            physics_dt=PHYSICS_DT,
        )
        m = self._env.model
        self.model = m
        if self.cameras:
            self._fast_render()
        self.data = self._env.data
        self._block_body = m.body("block").id
        self._block_geom = m.geom("block").id
        pads = {"left": [], "right": []}
        for g in range(m.ngeom):
            body = m.body(int(m.geom_bodyid[g])).name
            for side in pads:
                if body.startswith(side) and ("pad" in body or "follower" in body):
                    pads[side].append(g)
        self._pad_geoms = {k: set(v) for k, v in pads.items()}
        self.body_names = [m.body(i).name for i in range(1, m.nbody)]
        self._progress = 0.0
        self._z_init = 0.0

    # -- episode -------------------------------------------------------------------------

    def reset(self, seed: int) -> dict:
        import mujoco

        self._env.reset(seed=int(seed))
        rng = np.random.default_rng([int(seed), 0xC0BE])
        xy = rng.uniform(*SAMPLING_BOUNDS)
        z = float(self.model.geom("block").size[2])
        self.data.jnt("block").qpos[:3] = (xy[0], xy[1], z)
        self.data.jnt("block").qpos[3:7] = (1.0, 0.0, 0.0, 0.0)
        mujoco.mj_forward(self.model, self.data)
        self._z_init = float(self.data.sensor("block_pos").data[2])
        self._progress = 0.0
        return self.observation()

    def step(self, action) -> tuple[dict, StepInfo]:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape[0] != len(ACTION_NAMES) or not np.all(np.isfinite(a)):
            a = np.nan_to_num(a[: len(ACTION_NAMES)], nan=0.0, posinf=0.0, neginf=0.0)
            a = np.pad(a, (0, len(ACTION_NAMES) - a.shape[0]))
        full = np.zeros(7)
        full[:3] = np.clip(a[:3], -1.0, 1.0)
        full[6] = np.clip(a[3], -1.0, 1.0)
        self._env.apply_action(full)
        return self.observation(), self.info()

    def observation(self) -> dict:
        obs = {
            "agent_pos": self._env.get_robot_state().astype(np.float32),
            "environment_state": np.asarray(self.data.sensor("block_pos").data, dtype=np.float32).copy(),
        }
        return obs

    def info(self) -> StepInfo:
        block = np.asarray(self.data.sensor("block_pos").data)
        pinch = np.asarray(self.data.sensor("2f85/pinch_pos").data)
        reached = bool(np.linalg.norm(block - pinch) < REACH_DIST)
        grasped = self._pads_touch_block()
        lift = float(block[2] - self._z_init)
        success = bool(lift > LIFT_SUCCESS)
        level = (float(reached) + float(grasped) + (min(max(lift / LIFT_SUCCESS, 0.0), 1.0) if grasped else 0.0)) / 3.0
        if success:
            level = 1.0
        self._progress = max(self._progress, level)
        lo, hi = SAMPLING_BOUNDS[0] - 0.05, SAMPLING_BOUNDS[1] + 0.05
        oob = bool(np.any(block[:2] < lo) or np.any(block[:2] > hi))
        return StepInfo(reached, grasped, lift, success, round(self._progress, 6), oob)

    def _pads_touch_block(self) -> bool:
        touching = {"left": False, "right": False}
        bg = self._block_geom
        for i in range(self.data.ncon):
            c = self.data.contact[i]
            g1, g2 = int(c.geom1), int(c.geom2)
            other = g2 if g1 == bg else g1 if g2 == bg else None
            if other is None:
                continue
            for side, geoms in self._pad_geoms.items():
                if other in geoms:
                    touching[side] = True
        return touching["left"] and touching["right"]

    # -- privileged views (scripted operators, playback) ----------------------------------

    @property
    def target_pos(self) -> np.ndarray:
        """Where the end-effector is being driven (gym-hil's mocap target)."""
        return np.asarray(self.data.mocap_pos[0]).copy()

    @property
    def tcp_pos(self) -> np.ndarray:
        return np.asarray(self.data.sensor("2f85/pinch_pos").data).copy()

    @property
    def cube_pos(self) -> np.ndarray:
        return np.asarray(self.data.sensor("block_pos").data).copy()

    @property
    def gripper(self) -> float:
        """Gripper command in [0, 1] (0 open, 1 closed)."""
        return float(self._env.get_gripper_pose()[0] / 255.0)

    def body_poses(self) -> np.ndarray:
        """(n_bodies, 7) world poses px py pz qw qx qy qz of every body but the world."""
        return np.concatenate([self.data.xpos[1:], self.data.xquat[1:]], axis=1).astype(np.float32)

    def _fast_render(self) -> None:
        """Software (OSMesa) rendering is slow: drop shadows, reflections, skybox, multisampling."""
        import mujoco

        self.model.vis.quality.offsamples = 0
        scene = self._env._viewer.scene
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX):
            scene.flags[flag] = False

    def render(self) -> dict:
        front, wrist = self._env.render()
        return {"front": np.ascontiguousarray(front), "wrist": np.ascontiguousarray(wrist)}

    def close(self) -> None:
        self._env.close()
