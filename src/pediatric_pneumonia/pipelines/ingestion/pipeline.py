"""Ingestion: raw folder -> image manifest, rejected-files report, cross-split leakage report."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_image_manifest, find_split_leakage, select_rejected_files


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=build_image_manifest,
                inputs=["params:raw_data", "params:ingestion"],
                outputs="image_manifest",
                name="build_image_manifest_node",
            ),
            Node(
                func=select_rejected_files,
                inputs="image_manifest",
                outputs="rejected_files",
                name="select_rejected_files_node",
            ),
            Node(
                func=find_split_leakage,
                inputs="image_manifest",
                outputs="split_leakage",
                name="find_split_leakage_node",
            ),
        ],
        tags=["training"],
    )
