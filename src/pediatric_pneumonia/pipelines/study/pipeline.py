"""Study: every strategy x seed model trained by a Kedro session of its own (an MLflow child run),
then the comparison report of their test predictions (``study_predictions``) and the seed spread
of every figure that reads no test image (``study_figures``)."""

from kedro.pipeline import Node, Pipeline

from ...study.comparison import compare_strategies
from ...study.spread import seed_spread
from .nodes import plot_comparison, run_study_models, write_comparison_markdown


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=run_study_models,
                inputs=["image_split", "synthetic_images", "parameters", "params:study"],
                outputs=["study_predictions", "study_figures"],
                name="run_study_models_node",
            ),
            Node(func=seed_spread, inputs="study_figures", outputs="study_seed_spread", name="seed_spread_node"),
            Node(
                func=compare_strategies,
                inputs=["study_predictions", "params:study"],
                outputs="study_comparison",
                name="compare_strategies_node",
            ),
            Node(
                func=write_comparison_markdown,
                inputs=["study_comparison", "study_seed_spread", "params:study"],
                outputs="study_comparison_markdown",
                name="write_comparison_markdown_node",
            ),
            Node(func=plot_comparison, inputs="study_comparison", outputs="study_comparison_plot", name="plot_comparison_node"),
        ],
        tags=["reporting", "study"],
    )
