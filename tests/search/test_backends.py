import math

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import CSVDataset

from pediatric_pneumonia.pipelines.search import create_pipeline
from pediatric_pneumonia.pipelines.search.nodes import search_architectures, select_architecture
from pediatric_pneumonia.search import SearchedArchitectureDataset
from tests.search.conftest import checked

from .conftest import child_runs


def run_search_pipeline(data, search, training, preprocessing, folder):
    """The real pipeline with the catalog's dataset types for its outputs, in ``folder``."""
    train_set, validation_set = data
    catalog = DataCatalog(
        {
            "train_set": MemoryDataset(train_set),
            "validation_set": MemoryDataset(validation_set),
            "params:search": MemoryDataset(checked(search)),
            "params:training": MemoryDataset(training),
            "params:preprocessing": MemoryDataset(preprocessing),
            "search_results": CSVDataset(filepath=str(folder / "search_results.csv"), save_args={"index": False}),
            "searched_architecture": SearchedArchitectureDataset(filepath=str(folder / "architecture.yml")),
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    return catalog.load("search_results"), catalog.load("searched_architecture")


def test_sequential_search_keeps_the_best_validation_architecture(
    data, two_trial_search, training, preprocessing, parent_run, tmp_path
):
    search = {**two_trial_search, "backend": "sequential"}

    results, searched = run_search_pipeline(data, search, training, preprocessing, tmp_path)

    assert list(results["trial"]) == ["trial_000", "trial_001"]
    assert set(results["status"]) == {"completed"} and set(results["epochs_run"]) == {2}
    best = results.loc[results["val_auc"].idxmax()]
    assert searched["selection"]["trial"] == best["trial"] and searched["selection"]["trials"] == 2
    assert searched["architecture"]["dense_units"] == ([] if best["dense_units"] == "[]" else [8])
    assert searched["architecture"]["kernel_size"] == training.architecture.kernel_size
    assert best["val_auc"] > 0.9  # separable by brightness
    runs = child_runs(parent_run)
    assert sorted(run.data.tags["search.trial"] for run in runs) == ["trial_000", "trial_001"]
    assert {run.info.status for run in runs} == {"FINISHED"}


def test_selection_skips_failed_trials_and_minimises_loss(data, two_trial_search, training, preprocessing):
    search = {**two_trial_search, "backend": "sequential", "metric": "val_loss"}
    results = search_architectures(*data, checked(search), training, preprocessing)
    results.loc[0, "status"], results.loc[0, "val_loss"] = "error", -1.0

    searched = select_architecture(results, checked(search), training)

    assert searched["selection"]["trial"] == "trial_001"
    assert math.isfinite(searched["selection"]["value"])
    results["status"] = "error"
    with pytest.raises(RuntimeError, match="every one failed"):
        select_architecture(results, checked(search), training)
