"""Playback: any episode (demonstration, sim rollout, real-robot rollout) → a Rerun recording.

    from studio.playback import write_recording, cached_recording, EpisodeSource
    write_recording([("path/to/dataset", 3)], "ep3.rrd")                 # one episode
    write_recording([(ds_a, 17, "all-data"), (ds_b, 17, "curated")], "s17.rrd")  # side by side
    cached_recording(project, [(ds, 3)])                                 # cached under the project

Heavy libraries (rerun, av) are imported inside the functions.
"""

from __future__ import annotations

from studio.playback.recording import (
    FORMAT,
    EpisodeLayout,
    EpisodeSource,
    PlaybackError,
    Recording,
    read_episode,
    write_recording,
)


def cached_recording(project, sources, **kwargs):
    from studio.playback.cache import cached_recording as _cached

    return _cached(project, sources, **kwargs)


def side_by_side(project, sources, **kwargs):
    """Two or more episodes in one recording with aligned timelines (cached)."""
    from studio.playback.cache import cached_recording as _cached

    return _cached(project, sources, **kwargs)


__all__ = [
    "FORMAT",
    "EpisodeLayout",
    "EpisodeSource",
    "PlaybackError",
    "Recording",
    "cached_recording",
    "read_episode",
    "side_by_side",
    "write_recording",
]
