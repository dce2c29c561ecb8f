"""Project pipelines: shared data preparation, then one namespaced copy of the modelling chain per strategy."""

from kedro.pipeline import Pipeline

from .parameters import shared_parameters
from .pipelines import (
    balancing,
    explain,
    ingestion,
    model_card,
    preprocessing,
    reporting,
    search,
    shortcuts,
    stress,
    study,
    synthesis,
    synthesis_report,
    training,
)
from .strategies import STRATEGIES, STUDY_GAN_TAG, STUDY_MODEL_TAG, SYNTHETIC_IMAGE_STRATEGIES

__all__ = ["STRATEGIES", "SYNTHETIC_IMAGE_STRATEGIES", "create_strategy_pipeline", "register_pipelines"]

# Datasets that every strategy shares instead of getting its own namespaced copy. Parameters are
# shared too, all but the groups each strategy has its own block of (parameters.PER_STRATEGY_GROUPS).
SHARED_INPUTS = {"image_split", "train_set", "validation_set", "test_set", "synthetic_set", "searched_architecture"}
# A study job of a strategy (STUDY_MODEL_TAG) runs what its test report, training curves, stress
# report and shortcut audit need (the study compares test predictions and the seed spread of the
# figures that read no test image): not the plots, model card or explanations.
STUDY_JOB_LAST_NODES = (
    "track_test_metrics_node",
    "track_training_history_node",
    "track_stress_metrics_node",
    "track_shortcut_audit_node",
)


def create_strategy_pipeline(strategy: str) -> Pipeline:
    """The modelling template (balance, train and package, report, stress report, shortcut audit,
    model card, Grad-CAM explanations) under the namespace ``strategy``; what a study job runs of it
    is tagged ``STUDY_MODEL_TAG``."""
    template = (
        balancing.create_pipeline(strategy)
        + training.create_pipeline()
        + reporting.create_pipeline()
        + stress.create_pipeline()
        + shortcuts.create_pipeline()
        + model_card.create_pipeline(strategy)
        + explain.create_pipeline()
    )
    study_job = template.to_nodes(*STUDY_JOB_LAST_NODES)
    return Pipeline(
        template - study_job + study_job.tag(STUDY_MODEL_TAG),
        namespace=strategy,
        inputs=SHARED_INPUTS & template.inputs(),
        parameters=shared_parameters(template.inputs()),
    )


def register_pipelines() -> dict[str, Pipeline]:
    """Register the shared stages, one full pipeline per strategy of the strategy table
    (``strategies.py``), and ``__default__`` (all).

    ``synthesis_report`` reads ``baseline.classifier`` (a model trained on real images only),
    so it runs in ``__default__`` or after a ``baseline`` run. ``explain`` redoes the Grad-CAM
    explanations of already trained models (``--namespaces baseline`` for one strategy).
    ``search`` runs the hyperparameter grid on the prepared data; ``study`` trains every strategy
    over seeds, each model a Kedro session of its strategy's pipeline, and compares them. Neither
    is in ``__default__``: both cost many trainings.
    """
    data_preparation = ingestion.create_pipeline() + preprocessing.create_pipeline()
    synthesis_pipeline = synthesis.create_pipeline().tag(STUDY_GAN_TAG)
    synthesis_report_pipeline = synthesis_report.create_pipeline()
    strategies = {strategy: create_strategy_pipeline(strategy) for strategy in STRATEGIES}
    pipelines = {
        "data_preparation": data_preparation,
        "synthesis": data_preparation + synthesis_pipeline,
        "synthesis_report": synthesis_report_pipeline,
    }
    for name, modelling in strategies.items():
        upstream = data_preparation + synthesis_pipeline if name in SYNTHETIC_IMAGE_STRATEGIES else data_preparation
        pipelines[name] = upstream + modelling
    pipelines["explain"] = sum(
        (modelling.only_nodes_with_tags("explain") for modelling in strategies.values()), start=Pipeline([])
    )
    pipelines["search"] = data_preparation + search.create_pipeline()
    pipelines["study"] = data_preparation + synthesis_pipeline + study.create_pipeline()
    pipelines["__default__"] = (
        data_preparation
        + synthesis_pipeline
        + sum(strategies.values(), start=Pipeline([]))
        + synthesis_report_pipeline
    )
    return pipelines
