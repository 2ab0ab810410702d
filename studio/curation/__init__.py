"""Curation: per-episode quality metrics, the composite quality score, tags and notes,
revisioned selections, and export of a selection as a LeRobot v3.0 dataset.

    signals.py     robust per-dimension signals: roles, scale, noise floor, dropped dims, low-pass
    metrics.py     EpisodeMetric, EpisodeFrames, compute_metrics (cached per fingerprint)
    score.py       quality_score / quality_pct, weights (per dataset), tag/verdict terms
    validation.py  the score against labels: AUROC with 95 % intervals, weight fitting
    tags.py        tags and notes in studio.db
    selections.py  Selection, save/get/history, resolve (SQL predicate over episode facts)
    export.py      export_episodes / export_selection / ensure_export, episode list, Hub push
"""

from studio.curation.metrics import EpisodeMetric, compute_metrics  # noqa: F401
from studio.curation.score import scored_metrics  # noqa: F401
