"""Model card: a Markdown summary of one trained model, written after its report and stress report."""

from kedro.pipeline import Node, Pipeline

from .nodes import write_model_card


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=write_model_card,
                inputs=[
                    "test_metrics",
                    "calibration",
                    "decision_threshold",
                    "stress_metrics",
                    "training_history",
                    "image_split",
                    "params:balancing",
                    "params:training",
                    "params:preprocessing",
                    "params:reporting",
                    "params:ingestion",
                    "params:raw_data.classes",
                    "searched_architecture",
                ],
                outputs="model_card",
                name="write_model_card_node",
            ),
        ],
        tags=["reporting"],
    )
