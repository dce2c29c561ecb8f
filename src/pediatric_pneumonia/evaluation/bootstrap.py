"""Bootstrap confidence intervals that resample whole groups (patients), not single rows (images).

Images of one patient are correlated: resampling images as if independent makes intervals too
narrow. Here every drawn patient brings all of their images, as a block.
"""

from collections.abc import Callable

import numpy as np


def group_bootstrap_intervals(
    groups: np.ndarray,
    statistic: Callable[[np.ndarray], dict[str, float]],
    resamples: int,
    seed: int,
    confidence: float = 0.95,
    strata: np.ndarray | None = None,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of ``statistic`` over ``resamples`` resamples of the groups.

    Args:
        groups: the group (patient) of each row.
        statistic: maps the row indices of one resample (rows repeat when their group is drawn
            more than once) to named figures.
        resamples: how many resamples.
        seed: seed of the resampling.
        confidence: coverage of the two-sided interval (0.95: the 2.5th and 97.5th percentiles).
        strata: optional stratum of each row; groups are then drawn within their stratum, as many
            as it holds, so every resample keeps each stratum's group count (with labels: both
            classes are always present). A group spanning strata belongs to the largest value.

    Returns:
        For each figure, its (low, high) interval; resamples where a figure is missing are skipped.
    """
    group_ids, group_of_row = np.unique(np.asarray(groups), return_inverse=True)
    rows_of_group = np.split(np.argsort(group_of_row, kind="stable"), np.cumsum(np.bincount(group_of_row))[:-1])
    if strata is None:
        group_strata = np.zeros(len(group_ids), dtype=int)
    else:
        group_strata = np.full(len(group_ids), -np.inf)
        np.maximum.at(group_strata, group_of_row, np.asarray(strata, dtype=np.float64))
    members_of_stratum = [np.flatnonzero(group_strata == value) for value in np.unique(group_strata)]
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(resamples):
        drawn = np.concatenate([rng.choice(members, size=len(members), replace=True) for members in members_of_stratum])
        for name, value in statistic(np.concatenate([rows_of_group[group] for group in drawn])).items():
            samples.setdefault(name, []).append(value)
    tail = 100 * (1 - confidence) / 2
    return {
        name: (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
        for name, values in samples.items()
    }
