"""Preprocessing: manifest -> patient-disjoint subsets -> decoded, resized uint8 image sets."""

from kedro.pipeline import Node, Pipeline

from .nodes import assign_subsets, build_image_sets


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=assign_subsets,
                inputs=["image_manifest", "params:split"],
                outputs="image_split",
                name="assign_subsets_node",
            ),
            Node(
                func=build_image_sets,
                inputs=["image_split", "params:raw_data.classes", "params:preprocessing"],
                outputs=["train_set", "validation_set", "test_set"],
                name="build_image_sets_node",
            ),
        ],
        tags=["training"],
    )
