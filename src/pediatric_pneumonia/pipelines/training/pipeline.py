"""Training: the architecture (parameters or the search's file) -> balanced training set -> CNN
(early-stopped on validation) -> validation scored once -> calibration -> decision threshold and the
shift reference (features of a validation sample) -> the predictor package (logged to MLflow as a model that takes raw X-rays, and registered)."""

from kedro.pipeline import Node, Pipeline

from ...tracking import to_mlflow_history
from .nodes import (
    fit_calibration,
    package_predictor,
    sample_shift_reference,
    score_validation_set,
    select_decision_threshold,
    train_classifier,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=train_classifier,
                inputs=["balanced_train_set", "validation_set", "params:training", "params:preprocessing", "searched_architecture"],
                outputs=["classifier", "training_history"],
                name="train_classifier_node",
            ),
            Node(
                func=to_mlflow_history,
                inputs="training_history",
                outputs="training_history_tracked",
                name="track_training_history_node",
            ),
            Node(
                func=score_validation_set,
                inputs=["classifier", "validation_set", "params:raw_data.classes", "params:preprocessing", "params:inference"],
                outputs="validation_predictions",
                name="score_validation_set_node",
            ),
            Node(
                func=fit_calibration,
                inputs=["validation_predictions", "params:raw_data.classes", "params:calibration"],
                outputs="calibration",
                name="fit_calibration_node",
            ),
            Node(
                func=select_decision_threshold,
                inputs=["validation_predictions", "params:raw_data.classes", "calibration", "params:threshold"],
                outputs="decision_threshold",
                name="select_decision_threshold_node",
            ),
            Node(
                func=sample_shift_reference,
                inputs=[
                    "classifier",
                    "validation_set",
                    "validation_predictions",
                    "params:raw_data.classes",
                    "calibration",
                    "params:preprocessing",
                    "params:inference",
                    "params:shift",
                ],
                outputs="shift_reference",
                name="sample_shift_reference_node",
            ),
            Node(
                func=package_predictor,
                inputs=[
                    "classifier",
                    "calibration",
                    "decision_threshold",
                    "params:preprocessing",
                    "params:inference",
                    "params:raw_data.classes",
                    "shift_reference",
                    "params:shift",
                ],
                outputs="predictor",
                name="package_predictor_node",
            ),
        ],
        tags=["training"],
    )
