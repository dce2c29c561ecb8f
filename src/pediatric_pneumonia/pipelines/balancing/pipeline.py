"""Balancing: the training set -> the balanced training set of one strategy."""

from kedro.pipeline import Node, Pipeline

from .nodes import balance_training_set


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=balance_training_set,
                inputs=["train_set", "params:balancing"],
                outputs="balanced_train_set",
                name="balance_training_set_node",
            )
        ],
        tags=["training"],
    )
