"""Study: the comparison report of the strategy x seed test predictions (``study_predictions``)."""

from kedro.pipeline import Node, Pipeline

from .nodes import compare_strategies, plot_comparison, write_comparison_markdown


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=compare_strategies,
                inputs=["study_predictions", "params:study"],
                outputs="study_comparison",
                name="compare_strategies_node",
            ),
            Node(
                func=write_comparison_markdown,
                inputs=["study_comparison", "params:study"],
                outputs="study_comparison_markdown",
                name="write_comparison_markdown_node",
            ),
            Node(func=plot_comparison, inputs="study_comparison", outputs="study_comparison_plot", name="plot_comparison_node"),
        ],
        tags=["reporting", "study"],
    )
