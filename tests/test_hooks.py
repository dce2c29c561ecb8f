"""The parameter hook's checks before the first node, on the shipped configuration of the subtype
task and the registered pipelines (nothing runs)."""

from functools import reduce

import pytest
from kedro.framework.project import pipelines as registered_pipelines
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline

from pediatric_pneumonia.hooks import ParameterValidationHook, groups_read_by
from pediatric_pneumonia.project_config import load_project_config
from tests.conftest import REPO_ROOT


def checked_before_run(pipeline_name: str, changes: dict) -> None:
    """The hook's checks of ``pipeline_name`` with conf/subtype's parameters and ``changes`` (whole groups)."""
    bootstrap_project(REPO_ROOT)
    parameters = load_project_config(REPO_ROOT, "parameters", "subtype") | changes
    pipeline: Pipeline = registered_pipelines[pipeline_name]
    keys = set().union(*(groups_read_by(registered) for registered in registered_pipelines.values()))
    catalog = DataCatalog(
        {f"params:{key}": MemoryDataset(reduce(lambda block, part: block[part], key.split("."), parameters)) for key in keys}
    )
    ParameterValidationHook().before_pipeline_run(pipeline, catalog)


def test_the_subtype_study_passes_its_checks_with_its_shipped_strategies():
    checked_before_run("study", {})


@pytest.mark.parametrize(("pipeline_name", "study_strategies"), [("gan", None), ("study", ["baseline", "combined"])])
def test_a_three_class_run_of_a_synthetic_image_strategy_stops_before_any_node(pipeline_name, study_strategies):
    study = load_project_config(REPO_ROOT, "parameters", "subtype")["study"] | {"strategies": study_strategies}

    with pytest.raises(ValueError, match=r"balance with the DCGAN's NORMAL images.*needs a generator per smaller class"):
        checked_before_run(pipeline_name, {"study": study})
