"""Shortcut audit: the training split's shortcut properties and the strategy's predictor package on
validation, per stratum of each property, with its Grad-CAM border mass."""

from kedro.pipeline import Node, Pipeline

from ...tracking import to_mlflow_metrics
from .nodes import (
    measure_gradcam_border_mass,
    measure_shortcut_properties,
    plot_shortcut_strata,
    score_shortcut_strata,
    summarise_shortcut_audit,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=measure_shortcut_properties,
                inputs=["train_set", "validation_set", "params:raw_data.classes", "params:explain"],
                outputs="shortcut_properties",
                name="measure_shortcut_properties_node",
            ),
            Node(
                func=score_shortcut_strata,
                inputs=["predictor", "validation_set", "shortcut_properties", "params:shortcuts"],
                outputs="shortcut_strata",
                name="score_shortcut_strata_node",
            ),
            Node(
                func=measure_gradcam_border_mass,
                inputs=["predictor", "validation_set", "params:shortcuts", "params:explain", "params:raw_data.classes"],
                outputs="gradcam_border_mass",
                name="measure_gradcam_border_mass_node",
            ),
            Node(
                func=summarise_shortcut_audit,
                inputs=[
                    "shortcut_properties",
                    "shortcut_strata",
                    "gradcam_border_mass",
                    "params:shortcuts",
                    "params:raw_data.classes",
                ],
                outputs="shortcut_audit",
                name="summarise_shortcut_audit_node",
            ),
            Node(func=to_mlflow_metrics, inputs="shortcut_audit", outputs="shortcut_audit_tracked", name="track_shortcut_audit_node"),
            Node(
                func=plot_shortcut_strata,
                inputs=["shortcut_strata", "params:raw_data.classes"],
                outputs="shortcut_strata_plot",
                name="plot_shortcut_strata_node",
            ),
        ],
        tags=["reporting", "shortcuts"],
    )
