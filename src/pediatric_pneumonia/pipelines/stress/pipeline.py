"""Stress: the strategy's predictor package on validation and test images under simulated acquisition shifts."""

from kedro.pipeline import Node, Pipeline

from ...tracking import to_mlflow_metrics
from .nodes import plot_stress, stress_test, summarise_stress


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=stress_test,
                inputs=["predictor", "validation_set", "test_set", "params:stress"],
                outputs="stress_table",
                name="stress_test_node",
            ),
            Node(func=summarise_stress, inputs="stress_table", outputs="stress_metrics", name="summarise_stress_node"),
            Node(func=to_mlflow_metrics, inputs="stress_metrics", outputs="stress_metrics_tracked", name="track_stress_metrics_node"),
            Node(func=plot_stress, inputs="stress_table", outputs="stress_plot", name="plot_stress_node"),
        ],
        tags=["reporting", "stress"],
    )
