"""Balancing: the training set -> the balanced training set of one strategy."""

from functools import partial

from kedro.pipeline import Node, Pipeline

from ...strategies import strategy_named
from .nodes import balance_training_set, balance_with_synthetic_images


def create_pipeline(strategy: str = "baseline", **kwargs) -> Pipeline:
    """The balancing step of ``strategy``; it also reads the GAN's images if the strategy table says so.
    The namespace names the strategy, so its parameter block does not repeat it."""
    if strategy_named(strategy).uses_synthetic_images:
        balancing_node = Node(
            func=partial(balance_with_synthetic_images, strategy=strategy),
            inputs=["train_set", "synthetic_set", "params:balancing"],
            outputs="balanced_train_set",
            name="balance_training_set_node",
        )
    else:
        balancing_node = Node(
            func=partial(balance_training_set, strategy=strategy),
            inputs=["train_set", "params:balancing"],
            outputs="balanced_train_set",
            name="balance_training_set_node",
        )
    return Pipeline([balancing_node], tags=["training"])
