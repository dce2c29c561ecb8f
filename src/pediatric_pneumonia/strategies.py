"""The balancing strategies: one row per strategy, read by the pipeline registry, the balancing
nodes, the parameter checks and the study.

A strategy's name is its pipeline (``kedro run --pipeline <name>``), its namespace and the key of
its block in ``conf/base/parameters_balancing.yml``. What a study job runs of it is told by node tags
(``study_job_tags``), which the registry sets, so the study never names a node.
"""

from dataclasses import dataclass

# How a strategy changes the training set (the balancing nodes implement each):
# none: unchanged; augmentation: minority classes topped up with augmented copies;
# oversample: minority classes topped up with repeats of their real images;
# synthetic: the GAN's class topped up with synthetic images; synthetic_and_augmentation:
# every class grown to target_scale x the largest, partly from GAN images, the rest augmented.
BALANCING_METHODS = ("none", "augmentation", "oversample", "synthetic", "synthetic_and_augmentation")


@dataclass(frozen=True)
class Strategy:
    """One balancing strategy: how it builds its training set and how its loss is weighted."""

    name: str
    balancing: str
    uses_synthetic_images: bool
    weights_loss_by_class: bool
    description: str


STRATEGY_TABLE: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (
        Strategy("baseline", "none", False, False, "The training set as it is (the paper's baseline)."),
        Strategy(
            "augmentation", "augmentation", False, False,
            "Every class topped up to the largest with augmented copies of its images (the paper's classic augmentation).",
        ),
        Strategy("gan", "synthetic", True, False, "NORMAL topped up to the largest class with DCGAN images."),
        Strategy(
            "combined", "synthetic_and_augmentation", True, False,
            "Every class grown to target_scale x the largest, NORMAL partly from DCGAN images (the paper's best recipe).",
        ),
        Strategy(
            "class_weight", "none", False, True,
            "Control: the training set as it is, the loss weighted by inverse class frequency.",
        ),
        Strategy(
            "oversample", "oversample", False, False,
            "Control: every class topped up to the largest with repeats of its own real images.",
        ),
    )
}
STRATEGIES = tuple(STRATEGY_TABLE)
SYNTHETIC_IMAGE_STRATEGIES = tuple(name for name, strategy in STRATEGY_TABLE.items() if strategy.uses_synthetic_images)


# The node tags of a study job (pipeline_registry.py tags the nodes): a strategy's nodes that its test
# report and training curves need, and the GAN's stage (its training, synthetic images and loss plot).
STUDY_MODEL_TAG = "study_model"
STUDY_GAN_TAG = "study_gan"


def study_job_tags(trains_model: bool, trains_gan: bool) -> list[str]:
    """The tags a study job runs of its pipeline (``kedro run --pipelines <strategy> --tags ...``): a
    model's nodes, the GAN's, or both."""
    return [tag for tag, runs in ((STUDY_MODEL_TAG, trains_model), (STUDY_GAN_TAG, trains_gan)) if runs]


def describe_strategies() -> str:
    """The table as text, one strategy a line, for error messages and ``--help``."""
    return "\n".join(f"  {strategy.name}: {strategy.description}" for strategy in STRATEGY_TABLE.values())


def strategy_named(name: str) -> Strategy:
    """The strategy called ``name``; a ValueError listing the table if there is none."""
    try:
        return STRATEGY_TABLE[name]
    except KeyError:
        raise ValueError(
            f"Unknown balancing strategy {name!r}. The strategies (src/pediatric_pneumonia/strategies.py) are:\n"
            f"{describe_strategies()}"
        ) from None
