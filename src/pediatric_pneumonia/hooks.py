"""Project hooks."""

import logging
from typing import Any

import mlflow
import numpy as np
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines as registered_pipelines
from kedro.io import AbstractVersionedDataset, DataCatalog
from kedro.io.core import get_protocol_and_path
from kedro.pipeline import Node, Pipeline
from kedro_datasets.partitions import PartitionedDataset
from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

from .class_balance import check_synthetic_supply, synthetic_images_made
from .parameters import Group, check_image_side, check_parameters, check_study_gan_profiles, group_key
from .ray_cluster import check_ray_backend
from .strategies import STRATEGY_TABLE
from .study.parameters import study_strategies

logger = logging.getLogger(__name__)


class ParameterValidationHook:
    """Check the parameters and the saved inputs a pipeline uses before its first node runs.

    Every parameter group the pipeline reads is checked once against its schema (``parameters``:
    Kedro has already validated the groups nodes type; this checks each strategy's balancing block),
    and for a study the groups of every strategy pipeline its jobs run: a typo in a parameter that
    only the last nodes read would otherwise surface after minutes of training. Runs before
    kedro-mlflow opens its run, so no empty run is left behind. Once the training set is made, it
    also checks that the synthesis will make enough images for every synthetic-image strategy of
    the run, before the GAN trains.
    """

    def __init__(self) -> None:
        self._synthetic_balancing: dict[str, dict] = {}
        self._synthetic_label: int | None = None

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        parameters = {key: check_group(key, catalog) for key in sorted(groups_read_by(pipeline))}
        if "study" in parameters:
            # What the study's jobs will read (each strategy's pipeline), now rather than in every job.
            for strategy in study_strategies(parameters["study"]):
                for key in sorted(groups_read_by(registered_pipelines[strategy]) - parameters.keys()):
                    parameters[key] = check_group(key, catalog)
            check_study_gan_profiles(parameters["study"], parameters["synthesis"].profiles)
        check_backends(parameters)
        if "training" in parameters and "preprocessing" in parameters:
            check_image_side(parameters["training"].architecture, parameters["preprocessing"].image_size)
        self._synthetic_balancing = {
            key.rpartition(".")[0]: values.plain()
            for key, values in parameters.items()
            if key.endswith(".balancing") and STRATEGY_TABLE[key.rpartition(".")[0]].uses_synthetic_images
        }
        if self._synthetic_balancing and "synthetic_normal_set" in pipeline.all_outputs():
            classes = parameters["raw_data"].classes if "raw_data" in parameters else catalog.load("params:raw_data.classes")
            self._synthetic_label = classes.index(check_group("synthesis", catalog).target_class)
            # A run that starts from a saved training set (--from-nodes train_gan_node) checks it now.
            if "train_set" not in pipeline.all_outputs() and catalog.exists("train_set"):
                labels = catalog.load("train_set")["labels"]
                check_synthetic_supplies(self._synthetic_balancing, labels, self._synthetic_label)
        else:
            self._synthetic_balancing = {}
        check_inputs_are_saved(pipeline, catalog)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: object) -> None:
        # After the save, so a rerun with fixed parameters starts from the saved training set.
        if dataset_name == "train_set" and self._synthetic_balancing:
            check_synthetic_supplies(self._synthetic_balancing, data["labels"], self._synthetic_label)


def check_group(key: str, catalog: DataCatalog) -> Group:
    """The parameter group at ``key`` from the catalog as its schema: Kedro has validated the groups
    that nodes type, this checks the others (each strategy's balancing) with the same messages."""
    return check_parameters(key, catalog.load(f"params:{key}"))


def groups_read_by(pipeline: Pipeline) -> set[str]:
    """The keys of the parameter groups ``pipeline`` reads (``params:raw_data.classes`` -> ``raw_data``,
    ``params:combined.balancing`` -> ``combined.balancing``)."""
    return {key for name in pipeline.inputs() if name.startswith("params:") and (key := group_key(name))}


def check_backends(parameters: dict[str, Group]) -> None:
    """Raise an ImportError or ConnectionError if a group whose backend is Ray cannot reach Ray."""
    if "search" in parameters and parameters["search"].backend == "ray":
        check_ray_backend("search.backend", parameters["search"].ray.connect_timeout_s)
    if "study" in parameters and parameters["study"].backend == "ray":
        check_ray_backend("study.backend", parameters["study"].ray_connect_timeout_s)


def check_synthetic_supplies(synthetic_balancing: dict[str, dict], labels: np.ndarray, synthetic_label: int) -> None:
    """Raise a ValueError if a strategy needs more synthetic images than the synthesis will make for
    this training set (``generate_synthetic_images``: largest class - the synthetic class), before
    the GAN trains."""
    class_counts = np.bincount(labels, minlength=synthetic_label + 1)
    made = synthetic_images_made(class_counts, synthetic_label)
    for strategy, balancing in synthetic_balancing.items():
        check_synthetic_supply(strategy, balancing, class_counts, synthetic_label, made)


def check_inputs_are_saved(pipeline: Pipeline, catalog: DataCatalog) -> None:
    """Raise a FileNotFoundError naming the pipelines to run first if an input that another
    registered pipeline makes (a model, a prepared set) has no saved version yet."""
    makers = {name: other for name, other in registered_pipelines.items() if name != "__default__"}
    missing = {}
    for name in sorted(pipeline.inputs()):
        if name.startswith("params:") or name == "parameters":
            continue
        candidates = [other for other in makers if name in makers[other].all_outputs()]
        if candidates and not catalog.exists(name):
            missing[name] = min(candidates, key=lambda other: len(makers[other].nodes))
    if not missing:
        return
    first = [
        maker
        for maker in dict.fromkeys(missing.values())
        if not any(maker != other and set(makers[maker].nodes) < set(makers[other].nodes) for other in missing.values())
    ]
    raise FileNotFoundError(
        "This pipeline reads datasets that it does not make and that have no saved version yet: "
        + ", ".join(f"{name} (made by `kedro run --pipeline {maker}`)" for name, maker in missing.items())
        + ". Run first: "
        + "; ".join(f"`kedro run --pipeline {maker}`" for maker in first)
        + " (or everything with `kedro run`)."
    )


class MlflowArtifactHook:
    """Log the file (or, for a ``PartitionedDataset``, the folder) of every dataset whose catalog
    metadata names an ``mlflow_artifact_path``.

    kedro-mlflow's ``MlflowArtifactDataset`` gives a wrapped versioned dataset its own save
    version, which Kedro 1.x rejects when the catalog already has one; logging after the save
    keeps the catalog's single save version and still files the exact version in the MLflow run.
    The location is read through Kedro's public API only: the dataset's configuration as built
    (``DataCatalog.to_config``, so a study job's moved dataset logs its own file) and, for a
    versioned one, the path that ``list_versions`` gives its save version.
    """

    def __init__(self) -> None:
        self._catalog: DataCatalog | None = None

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        if self._catalog is None or mlflow.active_run() is None:
            return
        dataset = self._catalog.get(dataset_name)
        artifact_path = (getattr(dataset, "metadata", None) or {}).get("mlflow_artifact_path")
        if artifact_path is None:
            return
        # A catalog of this dataset alone: the run's whole catalog would copy every dataset's configuration.
        config = DataCatalog({dataset_name: dataset}).to_config()[0][dataset_name]
        _, location = get_protocol_and_path(next(config[key] for key in ("filepath", "path") if key in config))
        if isinstance(dataset, PartitionedDataset):
            # A folder of files (one per partition): its whole content as saved.
            mlflow.log_artifacts(location, artifact_path)
            logger.info("Logged the files of %s to MLflow under '%s'.", dataset_name, artifact_path)
            return
        if isinstance(dataset, AbstractVersionedDataset) and (version := dataset.resolve_save_version()):
            location = dict(zip(dataset.list_versions(full_path=False), dataset.list_versions(full_path=True)))[version]
        mlflow.log_artifact(location, artifact_path)
        logger.info("Logged %s to MLflow under '%s'.", dataset_name, artifact_path)


class TypedParametersMlflowHook(MlflowHook):
    """kedro-mlflow's hook (settings.py registers it in place of the plugin's own), logging a node's
    validated parameter group as the keys and values of its YAML with defaults filled
    (``training.epochs``, ``training.mixup.method``), as kedro-mlflow logs a raw group."""

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog, inputs: dict[str, Any], is_async: bool) -> None:
        plain = {name: value.plain() if isinstance(value, Group) else value for name, value in inputs.items()}
        super().before_node_run(node, catalog, plain, is_async)
