"""Built-in simulated environments, registered through the public `studio_environments` hook."""

from __future__ import annotations

from studio.hookspecs import hookimpl


def _make_pick_cube(cameras: bool = False):
    from studio.sim.pick_cube import PickCubeEnv

    return PickCubeEnv(cameras=cameras)


def _pick_cube_features(cameras: bool = False, *, outcomes: bool = False) -> dict:
    from studio.sim.pick_cube import features

    return features(cameras, outcomes=outcomes)


@hookimpl
def studio_environments():
    from studio.sim import pick_cube as pc
    from studio.sim.registry import EnvSpec

    return [
        EnvSpec(
            name=pc.ENV_NAME,
            description="MuJoCo Panda picks a cube and lifts it (gym-hil scene; state observations).",
            factory=_make_pick_cube,
            features=_pick_cube_features,
            fps=pc.FPS,
            max_steps=pc.MAX_STEPS,
            task=pc.TASK,
            robot_type=pc.ROBOT_TYPE,
            version=pc.ENV_VERSION,
        )
    ]
