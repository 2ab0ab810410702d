"""Flywheel Studio core: datasets, query, curation, jobs, sim, rollouts, playback, plugins.

Importing this package must stay cheap: heavy libraries (torch, gradio, lerobot, rerun,
mujoco, ray) are imported inside the functions that need them.
"""

__version__ = "0.1.0"

from studio.errors import StudioError  # noqa: E402

__all__ = ["StudioError", "__version__"]
