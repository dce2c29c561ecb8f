from pathlib import Path

import pandas as pd
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.text import TextDataset

from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.study import create_pipeline
from pediatric_pneumonia.study.comparison import COMPARISON_COLUMNS

from ...conftest import REPO_ROOT, shipped_catalog
from .test_nodes import STUDY, synthetic_study_figures, synthetic_study_predictions


def test_the_report_runs_from_study_predictions_to_csv_markdown_and_plot(tmp_path: Path):
    pipeline = create_pipeline().from_inputs("study_predictions", "study_figures")
    assert pipeline.inputs() == {"study_predictions", "study_figures", "params:study"}
    assert create_pipeline().inputs() == {"image_split", "synthetic_images", "parameters", "params:study"}
    catalog = DataCatalog(
        {
            "study_predictions": MemoryDataset(synthetic_study_predictions()),
            "study_figures": MemoryDataset(synthetic_study_figures()),
            "study_seed_spread": CSVDataset(filepath=str(tmp_path / "seed_spread.csv")),
            "params:study": MemoryDataset(check_parameters("study", STUDY)),
            "study_comparison": CSVDataset(filepath=str(tmp_path / "comparison.csv")),
            "study_comparison_markdown": TextDataset(filepath=str(tmp_path / "comparison.md")),
            "study_comparison_plot": MatplotlibDataset(filepath=str(tmp_path / "comparison.png")),
        }
    )

    SequentialRunner().run(pipeline, catalog)

    comparison = pd.read_csv(tmp_path / "comparison.csv")
    assert tuple(comparison.columns) == COMPARISON_COLUMNS
    assert comparison["strategy"].tolist() == ["baseline", "copy", "combined"]
    markdown = (tmp_path / "comparison.md").read_text()
    assert markdown.count(" vs baseline: ROC-AUC ") == 2 and "**Protocol.**" in markdown
    assert (tmp_path / "comparison.png").stat().st_size > 0
    spread = pd.read_csv(tmp_path / "seed_spread.csv")
    assert set(spread["strategy"]) == {"baseline", "combined"}
    assert "| stress.validation.specificity_mean | " in markdown


def test_the_shipped_parameters_pass_their_check_and_the_catalog_writes_versioned_reports():
    study = yaml.safe_load((REPO_ROOT / "conf" / "base" / "parameters_study.yml").read_text())["study"]
    assert set(study) == set(STUDY)
    check_parameters("study", study)
    catalog = shipped_catalog("catalog_08_study.yml")
    assert set(catalog) == create_pipeline().all_outputs()
    assert all(entry["versioned"] for entry in catalog.values())
    assert {name for name, entry in catalog.items() if entry["metadata"]["kedro-viz"]["layer"] != "reporting"} == {
        "study_predictions",
        "study_figures",
    }
    assert catalog["study_comparison"]["filepath"] == "data/08_reporting/study/comparison.csv"
    assert catalog["study_comparison_plot"]["metadata"]["mlflow_artifact_path"] == "study"
