"""The Ray path for real: a small local instance, a two-trial space on 16x16 images."""

from pathlib import Path

import mlflow
import pytest

from pediatric_pneumonia.pipelines.search.nodes import search_architectures
from tests.search.conftest import checked

from .conftest import child_runs

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_search_logs_child_runs_and_resumes_instead_of_restarting(
    local_ray, data, two_trial_search, training, preprocessing, parent_run
):
    search = {**two_trial_search, "backend": "ray"}

    results = search_architectures(*data, checked(search), training, preprocessing)

    assert list(results["trial"]) == ["trial_000", "trial_001"]
    assert set(results["status"]) <= {"completed", "stopped_early"} and results["val_auc"].notna().all()
    runs = child_runs(parent_run)
    assert sorted(run.data.tags["search.trial"] for run in runs) == ["trial_000", "trial_001"]
    assert {run.info.status for run in runs} <= {"FINISHED", "KILLED"}
    history = mlflow.MlflowClient().get_metric_history(runs[0].info.run_id, "validation.auc")
    assert [metric.step for metric in history] == list(range(1, len(history) + 1))
    storage = Path(search["storage_path"])
    experiments = list(storage.iterdir())
    assert len(experiments) == 1 and experiments[0].name.startswith("paper_grid_")

    resumed = search_architectures(*data, checked(search), training, preprocessing)

    assert resumed.equals(results)
    assert len(child_runs(parent_run)) == 2  # restored: no trial trained again
    assert list(storage.iterdir()) == experiments

