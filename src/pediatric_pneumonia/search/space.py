"""The search space: the paper's grid as a list of CNN architectures (its parameters' schema is
``parameters.Search``)."""

import itertools
import random

from ..choices import FAMILY_ONLY_KEYS
from ..parameters import Search, check_parameters, smallest_image_side
from ..ray_cluster import ray_installed


def pair_heads(dense_units: list[list[int]], dropout_rates: list[list[float]]) -> list[tuple[list, list]]:
    """The classifier heads of the grid: every dense option with every dropout option of the same
    length (one rate per dense layer); a head without dense layers has no dropout.

    The paper lists the two independently, but only equal lengths build a network, so the grid
    pairs them instead of cutting or padding rates the paper never tried together.
    """
    heads = []
    for units in dense_units:
        rates = [[]] if not units else [rates for rates in dropout_rates if len(rates) == len(units)]
        heads.extend((list(units), list(rate)) for rate in rates)
    return heads


def expand_space(search: Search, base_architecture: dict) -> list[dict]:
    """Every architecture of ``search.space``, each merged over ``base_architecture``
    (``training.architecture``: kernel, pool, learning rate, momentum, the residual width): per
    ``family``, the paper's conv filters x paired heads x batch norm, and for every
    other family (which reads no conv or batch-norm option) the paired heads alone."""
    space = search.space
    heads = pair_heads(space.dense_units, space.dropout_rates)
    architectures = []
    for family in space.family:
        base = {
            **{key: value for key, value in base_architecture.items() if family in FAMILY_ONLY_KEYS.get(key, (family,))},
            "family": family,
        }
        if family != "paper":
            architectures += [{**base, "dense_units": units, "dropout_rates": rates} for units, rates in heads]
            continue
        architectures += [
            {**base, "conv_filters": list(filters), "dense_units": units, "dropout_rates": rates, "batch_norm": bool(batch_norm)}
            for filters, (units, rates), batch_norm in itertools.product(space.conv_filters, heads, space.batch_norm)
        ]
    return architectures


def resolve_backend(search: Search) -> str:
    """``sequential`` or ``ray``: ``auto`` picks Ray when it is installed."""
    if search.backend == "auto":
        return "ray" if ray_installed() else "sequential"
    return search.backend


def sample_trials(architectures: list[dict], max_trials: int | None, seed: int) -> list[dict]:
    """The full grid (``max_trials`` null), or ``max_trials`` architectures drawn from it without
    replacement (seeded), in grid order: the first N would all share the first conv filters."""
    if max_trials is None or max_trials >= len(architectures):
        return architectures
    chosen = sorted(random.Random(seed).sample(range(len(architectures)), max_trials))
    return [architectures[index] for index in chosen]


def check_fits_image(architectures: list[dict], image_side: int) -> None:
    """Raise a ValueError naming the first architecture that cannot classify ``image_side``-pixel
    images (too many paper conv blocks, or a family's minimum), before any trial trains."""
    for architecture in architectures:
        checked = check_parameters("training.architecture", architecture)
        smallest = smallest_image_side(checked)
        if image_side >= smallest:
            continue
        if checked.family == "paper":
            raise ValueError(
                f"search.space.conv_filters {architecture['conv_filters']} has too many conv blocks for "
                f"{image_side}x{image_side} images (kernel {architecture['kernel_size']}, pool "
                f"{architecture['pool_size']}): remove it or raise preprocessing.image_size."
            )
        raise ValueError(
            f"search.space.family '{architecture['family']}' needs images of at least {smallest}x{smallest} "
            f"pixels, not {image_side}x{image_side}: remove it or raise preprocessing.image_size."
        )
