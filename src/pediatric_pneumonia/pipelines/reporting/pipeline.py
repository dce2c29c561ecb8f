"""Reporting: the one and only use of the test set, scored by the predictor package once the model,
calibration and threshold are fixed."""

from kedro.pipeline import Node, Pipeline

from ...evaluation.plots import plot_confusion_matrices, plot_reliability, plot_roc_curve, plot_training_curves
from ...tracking import tracked_test_report
from .nodes import (
    compute_test_metrics,
    find_test_duplicates,
    predict_test_set,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=predict_test_set,
                inputs=["predictor", "test_set", "image_split"],
                outputs="test_predictions",
                name="predict_test_set_node",
            ),
            Node(
                func=find_test_duplicates,
                inputs=["test_set", "train_set", "image_split"],
                outputs="test_duplicates",
                name="find_test_duplicates_node",
            ),
            Node(
                func=compute_test_metrics,
                inputs=[
                    "test_predictions",
                    "decision_threshold",
                    "calibration",
                    "test_duplicates",
                    "params:raw_data.classes",
                    "params:reporting",
                ],
                outputs="test_metrics",
                name="compute_test_metrics_node",
            ),
            Node(
                func=tracked_test_report,
                inputs="test_metrics",
                outputs="test_metrics_tracked",
                name="track_test_metrics_node",
            ),
            Node(
                func=plot_confusion_matrices,
                inputs=["test_metrics", "params:raw_data.classes"],
                outputs="confusion_matrix_plot",
                name="plot_confusion_matrices_node",
            ),
            Node(
                func=plot_roc_curve,
                inputs=["test_predictions", "test_metrics", "params:raw_data.classes"],
                outputs="roc_curve_plot",
                name="plot_roc_curve_node",
            ),
            Node(
                func=plot_reliability,
                inputs=["calibration", "test_predictions", "params:raw_data.classes"],
                outputs="reliability_plot",
                name="plot_reliability_node",
            ),
            Node(
                func=plot_training_curves,
                inputs="training_history",
                outputs="training_curves_plot",
                name="plot_training_curves_node",
            ),
        ],
        tags=["reporting"],
    )
