"""Search: the paper's grid trained on the training set and scored on validation -> the results
table and the selected architecture (that training reads with ``architecture_from: search``).

A strategy's variant maps ``train_set`` to its balanced set:
``Pipeline(create_pipeline(), inputs={"train_set": "<strategy>.balanced_train_set", ...})``."""

from kedro.pipeline import Node, Pipeline

from .nodes import search_architectures, select_architecture


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=search_architectures,
                inputs=["train_set", "validation_set", "params:search", "params:training", "params:preprocessing"],
                outputs="search_results",
                name="search_architectures_node",
            ),
            Node(
                func=select_architecture,
                inputs=["search_results", "params:search", "params:training"],
                outputs="searched_architecture",
                name="select_architecture_node",
            ),
        ],
        tags=["search"],
    )
