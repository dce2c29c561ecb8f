"""Synthesis report: synthetic vs real images of each synthesised class, in the baseline classifier's feature space."""

from kedro.pipeline import Node, Pipeline

from .nodes import assess_synthetic_images, plot_closest_pairs, plot_sample_grids, synthesis_report_metrics


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=assess_synthetic_images,
                inputs=[
                    "baseline.classifier",
                    "train_set",
                    "validation_set",
                    "synthetic_set",
                    "params:raw_data.classes",
                    "params:synthesis_report",
                    "params:preprocessing",
                ],
                outputs=["synthesis_report", "synthesis_report_images"],
                name="assess_synthetic_images_node",
            ),
            Node(
                func=synthesis_report_metrics,
                inputs="synthesis_report",
                outputs="synthesis_report_tracked",
                name="track_synthesis_report_node",
            ),
            Node(
                func=plot_sample_grids,
                inputs="synthesis_report_images",
                outputs="synthetic_vs_real_grid",
                name="plot_sample_grids_node",
            ),
            Node(
                func=plot_closest_pairs,
                inputs="synthesis_report_images",
                outputs="closest_pairs_grid",
                name="plot_closest_pairs_node",
            ),
        ],
        tags=["reporting", "synthesis"],
    )
