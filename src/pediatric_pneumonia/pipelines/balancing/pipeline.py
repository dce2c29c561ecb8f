"""Balancing: the training set -> the balanced training set of one strategy."""

from kedro.pipeline import Node, Pipeline

from .nodes import balance_training_set, balance_with_synthetic_images


def create_pipeline(uses_synthetic_images: bool = False, **kwargs) -> Pipeline:
    """The balancing step; with ``uses_synthetic_images`` it also reads the GAN's images."""
    if uses_synthetic_images:
        balancing_node = Node(
            func=balance_with_synthetic_images,
            inputs=["train_set", "synthetic_normal_set", "params:balancing"],
            outputs="balanced_train_set",
            name="balance_training_set_node",
        )
    else:
        balancing_node = Node(
            func=balance_training_set,
            inputs=["train_set", "params:balancing"],
            outputs="balanced_train_set",
            name="balance_training_set_node",
        )
    return Pipeline([balancing_node], tags=["training"])
