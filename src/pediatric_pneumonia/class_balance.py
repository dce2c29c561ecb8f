"""How many images balancing adds per class: the one count the synthesis makes, the balancing nodes
take and the parameter checks compare before the GAN trains."""

import numpy as np

from .strategies import Strategy, strategy_named


def synthetic_images_made(class_counts: np.ndarray, synthetic_label: int) -> int:
    """How many synthetic images of ``synthetic_label`` the synthesis makes: the gap between the
    largest class and that class."""
    return int(class_counts.max() - class_counts[synthetic_label])


def balancing_targets(strategy: Strategy, balancing: dict, class_counts: np.ndarray) -> tuple[int, float]:
    """The size every class grows to and the share of the synthetic class's gap filled by GAN images."""
    if strategy.balancing == "synthetic_and_augmentation":
        return round(balancing["target_scale"] * int(class_counts.max())), balancing["synthetic_share"]
    return int(class_counts.max()), 1.0 if strategy.uses_synthetic_images else 0.0


def synthetic_images_needed(strategy: str, balancing: dict, class_counts: np.ndarray, synthetic_label: int) -> int:
    """How many synthetic images of ``synthetic_label`` ``strategy`` takes for these class counts."""
    target, synthetic_share = balancing_targets(strategy_named(strategy), balancing, class_counts)
    return round(synthetic_share * max(target - int(class_counts[synthetic_label]), 0))


def check_synthetic_supply(strategy: str, balancing: dict, class_counts: np.ndarray, synthetic_label: int, available: int) -> int:
    """How many synthetic images ``strategy`` takes for these class counts; a ValueError naming the
    settings to lower when that is more than the ``available`` ones (checked before the GAN trains,
    with what it will make, and when balancing, with what it made)."""
    needed = synthetic_images_needed(strategy, balancing, class_counts, synthetic_label)
    if needed > available:
        raise ValueError(
            f"Strategy '{strategy}' needs {needed} synthetic images but the synthesis makes "
            f"{available} (largest class - class {synthetic_label}, class counts {class_counts.tolist()}). Lower "
            f"{strategy}.balancing.synthetic_share or target_scale."
        )
    return needed
