"""The search space: the paper's grid as a list of CNN architectures, and the check of the
``search`` parameters that runs before anything trains."""

import itertools
import os
import random

from ..ray_cluster import INSTALL_RAY, check_ray_address_answers, ray_installed

BACKENDS = ("auto", "sequential", "ray")
# The validation signals a trial reports each epoch (Keras' names) and the direction that is better.
METRIC_MODES = {"val_auc": "max", "val_loss": "min"}
SPACE_KEYS = ("conv_filters", "dense_units", "dropout_rates", "batch_norm")


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


def expand_space(search: dict, base_architecture: dict) -> list[dict]:
    """Every architecture of ``search.space`` (conv filters x paired heads x batch norm), each merged
    over ``base_architecture`` (``training.architecture``: kernel, pool, learning rate, momentum)."""
    space = search["space"]
    heads = pair_heads(space["dense_units"], space["dropout_rates"])
    return [
        {
            **base_architecture,
            "conv_filters": list(filters),
            "dense_units": units,
            "dropout_rates": rates,
            "batch_norm": bool(batch_norm),
        }
        for filters, (units, rates), batch_norm in itertools.product(
            space["conv_filters"], heads, space["batch_norm"]
        )
    ]


def resolve_backend(search: dict) -> str:
    """``sequential`` or ``ray``: ``auto`` picks Ray when it is installed."""
    if search["backend"] == "auto":
        return "ray" if ray_installed() else "sequential"
    return search["backend"]


def check_search_parameters(search: dict) -> None:
    """Raise a ValueError (or ImportError, ConnectionError) naming the fix if ``search`` cannot run."""
    space = search["space"]
    missing = [key for key in SPACE_KEYS if key not in space]
    if missing:
        raise ValueError(f"search.space lacks {missing}: give {list(SPACE_KEYS)}, each a list of options.")
    empty = [key for key in SPACE_KEYS if not space[key]]
    if empty:
        raise ValueError(f"search.space.{empty[0]} is empty: the search space has no configuration. List at least one option.")
    if any(not filters for filters in space["conv_filters"]):
        raise ValueError("search.space.conv_filters has an empty option: every CNN needs at least one conv block.")
    lengths = {len(rates) for rates in space["dropout_rates"]}
    unpaired = [units for units in space["dense_units"] if units and len(units) not in lengths]
    if unpaired:
        raise ValueError(
            f"search.space.dense_units {unpaired} can never pair with a dropout list: dropout_rates "
            f"{space['dropout_rates']} has no list of the same length (one rate per dense layer). "
            "Add dropout lists of that length or remove those dense options."
        )
    if search["metric"] not in METRIC_MODES:
        raise ValueError(f"Unknown search.metric '{search['metric']}'. Use one of {list(METRIC_MODES)}.")
    if search["mode"] != METRIC_MODES[search["metric"]]:
        raise ValueError(
            f"search.mode '{search['mode']}' does not fit search.metric '{search['metric']}': "
            f"set mode: {METRIC_MODES[search['metric']]}."
        )
    for name in ("epochs", "images_per_epoch"):
        if not isinstance(search[name], int) or search[name] < 1:
            raise ValueError(f"search.{name} must be a positive integer, got {search[name]!r}.")
    if search["max_trials"] is not None and (not isinstance(search["max_trials"], int) or search["max_trials"] < 1):
        raise ValueError(f"search.max_trials must be a positive integer or null (the full grid), got {search['max_trials']!r}.")
    if search["backend"] not in BACKENDS:
        raise ValueError(f"Unknown search.backend '{search['backend']}'. Use one of {list(BACKENDS)}.")
    if search["backend"] == "ray":
        if not ray_installed():
            raise ImportError(f"search.backend is 'ray' but Ray Tune is not installed: {INSTALL_RAY}, or set backend: sequential.")
        address = os.environ.get("RAY_ADDRESS")
        if address:
            check_ray_address_answers(address, search["ray"]["connect_timeout_s"])


def sample_trials(architectures: list[dict], max_trials: int | None, seed: int) -> list[dict]:
    """The full grid (``max_trials`` null), or ``max_trials`` architectures drawn from it without
    replacement (seeded), in grid order: the first N would all share the first conv filters."""
    if max_trials is None or max_trials >= len(architectures):
        return architectures
    chosen = sorted(random.Random(seed).sample(range(len(architectures)), max_trials))
    return [architectures[index] for index in chosen]


def check_fits_image(architectures: list[dict], image_side: int) -> None:
    """Raise a ValueError naming the first architecture whose conv blocks shrink an
    ``image_side``-pixel image to nothing, before any trial trains."""
    for architecture in architectures:
        side = image_side
        for _ in architecture["conv_filters"]:
            side = (side - architecture["kernel_size"] + 1) // architecture["pool_size"]
        if side < 1:
            raise ValueError(
                f"search.space.conv_filters {architecture['conv_filters']} has too many conv blocks for "
                f"{image_side}x{image_side} images (kernel {architecture['kernel_size']}, pool "
                f"{architecture['pool_size']}): remove it or raise preprocessing.image_size."
            )
