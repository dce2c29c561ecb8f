"""Explain: Grad-CAM of the strategy's model on a sample of test images of every outcome."""

from kedro.pipeline import Node, Pipeline

from ...tracking import to_mlflow_metrics
from .nodes import (
    compute_heatmaps,
    plot_contact_sheet,
    render_overlays,
    select_explanation_sample,
    summarise_explanations,
)

DRAWING_INPUTS = [
    "test_set",
    "explanation_sample",
    "explanation_heatmaps",
    "params:explain",
    "params:preprocessing",
    "params:raw_data.classes",
]


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=select_explanation_sample,
                inputs=["test_predictions", "decision_threshold", "params:raw_data.classes", "params:explain"],
                outputs="explanation_sample",
                name="select_explanation_sample_node",
            ),
            Node(
                func=compute_heatmaps,
                inputs=["predictor", "test_set", "explanation_sample", "params:explain"],
                outputs=["explanation_heatmaps", "randomised_explanation_heatmaps"],
                name="compute_heatmaps_node",
            ),
            Node(func=render_overlays, inputs=DRAWING_INPUTS, outputs="explanations", name="render_overlays_node"),
            Node(
                func=plot_contact_sheet,
                inputs=DRAWING_INPUTS,
                outputs="explanation_contact_sheet",
                name="plot_explanation_contact_sheet_node",
            ),
            Node(
                func=summarise_explanations,
                inputs=[
                    "explanation_sample",
                    "explanation_heatmaps",
                    "randomised_explanation_heatmaps",
                    "params:explain",
                    "params:raw_data.classes",
                ],
                outputs="explanation_metrics",
                name="summarise_explanations_node",
            ),
            Node(
                func=to_mlflow_metrics,
                inputs="explanation_metrics",
                outputs="explanation_metrics_tracked",
                name="track_explanation_metrics_node",
            ),
        ],
        tags=["reporting", "explain"],
    )
