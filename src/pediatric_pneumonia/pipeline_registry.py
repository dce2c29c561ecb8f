"""Project pipelines: shared data preparation, then one namespaced copy of the modelling chain per strategy."""

from kedro.pipeline import Pipeline

from .pipelines import balancing, ingestion, preprocessing, reporting, training

# Each strategy is a namespace; its balancing parameters live under that name in
# conf/base/parameters_balancing.yml.
STRATEGIES = ("baseline", "augmentation")

# Datasets and parameters that every strategy shares instead of getting its own namespaced copy.
SHARED_INPUTS = {"train_set", "validation_set", "test_set"}
SHARED_PARAMETERS = {
    "params:training",
    "params:threshold",
    "params:inference",
    "params:raw_data.classes",
}


def create_strategy_pipeline(strategy: str) -> Pipeline:
    """The modelling template (balance, train, report) under the namespace ``strategy``."""
    template = balancing.create_pipeline() + training.create_pipeline() + reporting.create_pipeline()
    return Pipeline(
        template,
        namespace=strategy,
        inputs=SHARED_INPUTS,
        parameters=SHARED_PARAMETERS,
    )


def register_pipelines() -> dict[str, Pipeline]:
    """Register ``data_preparation``, one full pipeline per strategy, and ``__default__`` (all)."""
    data_preparation = ingestion.create_pipeline() + preprocessing.create_pipeline()
    strategies = {strategy: create_strategy_pipeline(strategy) for strategy in STRATEGIES}
    return {
        "data_preparation": data_preparation,
        **{name: data_preparation + modelling for name, modelling in strategies.items()},
        "__default__": data_preparation + sum(strategies.values(), start=Pipeline([])),
    }
