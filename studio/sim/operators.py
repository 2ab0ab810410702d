"""Scripted operators of known skill.

An operator is one state machine (approach → descend → close → check → lift, with re-grasps)
driven by a `SkillProfile`: a small set of documented knobs. No trajectory is hard-coded;
every episode differs through the cube position and the operator's own seeded randomness.

Profiles (see PROFILES), modelled on what real teleoperation data shows — most
demonstrations succeed; operators differ in efficiency, smoothness, hesitation, re-grasps
and tremor rather than mostly in failing:
`expert` (direct, smooth, fast), `careful` (slow, short hesitations), `novice` (tremor,
jolts, detours, imprecise aim → re-grasps, gripper chatter, an occasional failure) and
`distracted` (short glances away mid-task, a shaky hand, now and then walks away).
A resting hand is never perfectly still: pauses command small drift (`idle_noise`), not
exact zeros.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from studio.errors import StudioError


MIN_STEPS_BEFORE_QUIT = 15  # nobody walks away in the first 1.5 s


@dataclass(frozen=True)
class SkillProfile:
    """The knobs of a scripted operator (units: metres and steps of 0.1 s)."""

    name: str
    skill: float  # ground-truth skill in [0, 1] (for labels; not used by the controller)
    speed: float  # max end-effector travel per step
    gain: float  # fraction of the remaining distance covered per step (how directly it homes in)
    noise: float  # std of per-step positional noise (hand tremor)
    jerk_prob: float  # chance per step of a sudden jolt ...
    jerk_size: float  # ... of this size
    pause_prob: float  # chance per step of a short pause ...
    pause_steps: tuple[int, int]  # ... lasting this many steps (inclusive range)
    idle_prob: float  # chance per step of a long idle stretch (looking away) ...
    idle_steps: tuple[int, int]  # ... lasting this many steps
    detour_prob: float  # chance an approach goes through a random waypoint first ...
    detour_size: float  # ... this far off the straight path
    aim_error: float  # std of the horizontal error of each grasp attempt
    close_wait: int  # steps given to the gripper to close before lifting
    chatter_prob: float  # chance per step of flicking the gripper open/closed while moving
    max_attempts: int  # grasp attempts before giving up
    give_up_prob: float  # chance of giving up after each failed attempt
    quit_prob: float = 0.0  # chance that a long idle stretch ends the episode (walked away)
    smoothing: float = 0.0  # low-pass on the commanded velocity (0 = none; skilled hands blend moves)
    hover: float = 0.06  # approach height above the cube
    idle_noise: float = 0.0008  # std of the drift a resting hand still commands (never exact zero)


PROFILES: dict[str, SkillProfile] = {
    p.name: p
    for p in (
        SkillProfile("expert", skill=0.95, speed=0.03, gain=0.55, noise=0.0005, jerk_prob=0.0, jerk_size=0.0,
                     pause_prob=0.0, pause_steps=(0, 0), idle_prob=0.0, idle_steps=(0, 0), detour_prob=0.0,
                     detour_size=0.0, aim_error=0.002, close_wait=4, chatter_prob=0.0, max_attempts=3,
                     give_up_prob=0.0, smoothing=0.6, idle_noise=0.0005),
        SkillProfile("careful", skill=0.75, speed=0.015, gain=0.35, noise=0.0008, jerk_prob=0.0, jerk_size=0.0,
                     pause_prob=0.05, pause_steps=(2, 5), idle_prob=0.0, idle_steps=(0, 0), detour_prob=0.0,
                     detour_size=0.0, aim_error=0.003, close_wait=6, chatter_prob=0.0, max_attempts=3,
                     give_up_prob=0.0, smoothing=0.6, idle_noise=0.0008),
        SkillProfile("novice", skill=0.45, speed=0.025, gain=0.6, noise=0.004, jerk_prob=0.06, jerk_size=0.015,
                     pause_prob=0.03, pause_steps=(1, 3), idle_prob=0.0, idle_steps=(0, 0), detour_prob=0.6,
                     detour_size=0.07, aim_error=0.011, close_wait=3, chatter_prob=0.08, max_attempts=2,
                     give_up_prob=0.4, smoothing=0.3, idle_noise=0.003),
        SkillProfile("distracted", skill=0.35, speed=0.022, gain=0.5, noise=0.002, jerk_prob=0.02,
                     jerk_size=0.01, pause_prob=0.03, pause_steps=(1, 4), idle_prob=0.05, idle_steps=(3, 10),
                     detour_prob=0.2, detour_size=0.05, aim_error=0.007, close_wait=4, chatter_prob=0.02,
                     max_attempts=3, give_up_prob=0.4, quit_prob=0.15, smoothing=0.4, idle_noise=0.002),
    )
}


def profile(name: str) -> SkillProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise StudioError("operator", f"unknown operator profile '{name}' (known: {', '.join(PROFILES)})") from None


class ScriptedOperator:
    """Drives a `PickCubeEnv` with privileged state (cube and target positions), like a
    teleoperator who can see the scene. `act(env)` returns `[dx, dy, dz, grasp]` or None
    when the operator gives up."""

    def __init__(self, prof: SkillProfile | str, seed: int):
        self.p = profile(prof) if isinstance(prof, str) else prof
        self.rng = np.random.default_rng([int(seed), 0x0BE7])
        self.phase = "approach"
        self.attempt = 0
        self.wait = 0
        self.idle = 0
        self.grip = -1.0
        self.aim = None
        self.waypoint = None
        self.z_rest = None
        self.gave_up = False
        self.v = np.zeros(3)
        self.t = 0

    def describe(self) -> dict:
        return asdict(self.p)

    # -- helpers ---------------------------------------------------------------------------

    def _new_attempt(self, cube: np.ndarray) -> None:
        self.aim = cube[:2] + self.rng.normal(0.0, self.p.aim_error, 2)
        self.waypoint = None
        if self.rng.random() < self.p.detour_prob:
            off = self.rng.normal(0.0, 1.0, 3)
            off[2] = abs(off[2])
            self.waypoint = np.array([*self.aim, cube[2] + self.p.hover]) + self.p.detour_size * off / max(
                np.linalg.norm(off), 1e-6
            )
        self.phase = "approach"

    def _move(self, target: np.ndarray, goal: np.ndarray) -> np.ndarray:
        delta = (goal - target) * self.p.gain
        n = np.linalg.norm(delta)
        if n > self.p.speed:
            delta *= self.p.speed / n
        return delta

    # -- the controller --------------------------------------------------------------------

    def act(self, env) -> np.ndarray | None:
        p, rng = self.p, self.rng
        cube, target = env.cube_pos, env.target_pos
        if self.z_rest is None:
            self.z_rest = float(cube[2])
            self._new_attempt(cube)
        zero = np.zeros(3)
        self.t += 1

        if self.idle > 0:  # looking away / pausing: the hand rests, but never perfectly still
            self.idle -= 1
            self.v = zero
            drift = rng.normal(0.0, p.idle_noise, 3)
            return np.array([*drift, self.grip], dtype=np.float32)
        if p.idle_prob and rng.random() < p.idle_prob:
            if self.t > MIN_STEPS_BEFORE_QUIT and rng.random() < p.quit_prob:
                self.gave_up = True
                return None
            self.idle = int(rng.integers(p.idle_steps[0], p.idle_steps[1] + 1))
        elif p.pause_prob and rng.random() < p.pause_prob:
            self.idle = int(rng.integers(p.pause_steps[0], p.pause_steps[1] + 1))

        hover_z = self.z_rest + p.hover
        grasp_z = self.z_rest - 0.005
        move = zero
        if self.phase == "approach":
            self.grip = -1.0
            goal = np.array([*self.aim, hover_z])
            if self.waypoint is not None:
                if np.linalg.norm(self.waypoint - target) < 0.015:
                    self.waypoint = None
                else:
                    goal = self.waypoint
            move = self._move(target, goal)
            if self.waypoint is None and np.linalg.norm(goal - target) < 0.01:
                self.phase = "descend"
        elif self.phase == "descend":
            goal = np.array([*self.aim, grasp_z])
            move = self._move(target, goal)
            if abs(target[2] - grasp_z) < 0.006 and np.linalg.norm(env.tcp_pos - goal) < 0.02:
                self.phase, self.wait = "close", p.close_wait
        elif self.phase == "close":
            self.grip = 1.0
            self.wait -= 1
            if self.wait <= 0:
                self.phase, self.wait = "check", 20
        elif self.phase == "check":  # lift a little and look whether the cube came along
            self.grip = 1.0
            move = self._move(target, np.array([target[0], target[1], self.z_rest + 0.06]))
            self.wait -= 1
            if target[2] - self.z_rest >= 0.035 or self.wait <= 0:
                if cube[2] - self.z_rest > 0.012:
                    self.phase = "lift"
                else:
                    self.attempt += 1
                    if self.attempt >= p.max_attempts or rng.random() < p.give_up_prob:
                        self.gave_up = True
                        return None
                    self.phase, self.wait = "release", 3
        elif self.phase == "release":
            self.grip = -1.0
            move = self._move(target, np.array([target[0], target[1], hover_z + 0.02]))
            self.wait -= 1
            if self.wait <= 0:
                self._new_attempt(cube)
        elif self.phase == "lift":
            self.grip = 1.0
            move = self._move(target, np.array([target[0], target[1], self.z_rest + 0.2]))
            if cube[2] - self.z_rest < 0.01 and target[2] - self.z_rest > 0.05:  # dropped it: look, re-grasp
                self.attempt += 1
                if self.attempt >= p.max_attempts or rng.random() < p.give_up_prob:
                    self.gave_up = True
                    return None
                self.phase, self.wait = "release", 3

        self.v = p.smoothing * self.v + (1.0 - p.smoothing) * move
        move = self.v + rng.normal(0.0, p.noise, 3)
        if p.jerk_prob and rng.random() < p.jerk_prob:
            move = move + p.jerk_size * rng.normal(0.0, 1.0, 3)
        grip = self.grip
        if p.chatter_prob and self.phase in ("approach", "release", "lift") and rng.random() < p.chatter_prob:
            grip = -grip
        return np.array([*move, grip], dtype=np.float32)
