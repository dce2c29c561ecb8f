"""Model card: a Markdown summary of one trained model, written after its report and stress report."""

from functools import partial

from kedro.pipeline import Node, Pipeline

from .nodes import write_model_card


def create_pipeline(strategy: str = "baseline", **kwargs) -> Pipeline:
    """The model card of ``strategy``'s model (the namespace names the strategy)."""
    return Pipeline(
        [
            Node(
                func=partial(write_model_card, strategy=strategy),
                inputs=[
                    "test_metrics",
                    "calibration",
                    "decision_threshold",
                    "stress_metrics",
                    "training_history",
                    "image_split",
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
