"""Simulation: an environment registry, the built-in `pick_cube` task on gym-hil's MuJoCo
Panda scene, scripted operators of known skill, and a parallel rollout engine.

Importing this package is cheap; MuJoCo, gym-hil, torch and lerobot load inside functions.
"""

from __future__ import annotations

import os


def ensure_gl() -> None:
    """gym-hil always builds an offscreen renderer; OSMesa is the backend that works headless."""
    backend = os.environ.setdefault("MUJOCO_GL", "osmesa")
    if backend in ("osmesa", "egl"):
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)


ensure_gl()  # before anyone imports mujoco: it picks its GL backend once, at import
