"""The strategy table drives the registered pipelines, and bad strategy settings or missing inputs
stop a run before its first node."""

from pathlib import Path

import pytest
import yaml

from pediatric_pneumonia.pipeline_registry import STRATEGIES as REGISTRY_STRATEGIES
from pediatric_pneumonia.pipeline_registry import register_pipelines
from pediatric_pneumonia.strategies import (
    BALANCING_METHODS,
    STRATEGIES,
    STRATEGY_TABLE,
    SYNTHETIC_IMAGE_STRATEGIES,
    strategy_named,
)
from tests.conftest import REPO_ROOT, TEST_PARAMETERS, create_project, make_raw_dataset, run_pipelines


def test_every_strategy_of_the_table_is_a_registered_pipeline_and_namespace():
    pipelines = register_pipelines()
    balancing_nodes = {node.name for node in pipelines["__default__"].nodes if node.name.endswith(".balance_training_set_node")}

    assert REGISTRY_STRATEGIES == STRATEGIES
    assert balancing_nodes == {f"{strategy}.balance_training_set_node" for strategy in STRATEGIES}
    for strategy in STRATEGIES:
        node_names = {node.name for node in pipelines[strategy].nodes}
        assert f"{strategy}.train_classifier_node" in node_names
        assert ("train_gan_node" in node_names) == (strategy in SYNTHETIC_IMAGE_STRATEGIES)
        assert {name.split(".")[0] for name in node_names if "." in name} == {strategy}


def test_the_table_holds_the_two_controls_and_only_known_methods():
    assert {"class_weight", "oversample"} <= set(STRATEGIES)
    assert STRATEGY_TABLE["class_weight"].weights_loss_by_class
    assert [name for name, strategy in STRATEGY_TABLE.items() if strategy.weights_loss_by_class] == ["class_weight"]
    assert all(strategy.balancing in BALANCING_METHODS for strategy in STRATEGY_TABLE.values())
    assert all(name == strategy.name for name, strategy in STRATEGY_TABLE.items())


def test_every_strategy_has_its_parameter_block_and_the_namespace_names_it():
    parameters = yaml.safe_load((REPO_ROOT / "conf/base/parameters_balancing.yml").read_text())
    blocks = {name for name in parameters if not name.startswith("_")}
    assert blocks == set(STRATEGIES)
    assert not any("strategy" in parameters[name]["balancing"] for name in STRATEGIES)


def test_an_unknown_strategy_lists_the_table():
    with pytest.raises(ValueError, match="Unknown balancing strategy 'smote'") as error:
        strategy_named("smote")
    for strategy in STRATEGIES:
        assert f"  {strategy}: " in str(error.value)


@pytest.mark.slow
def test_a_balancing_block_with_a_setting_its_method_lacks_stops_the_run(tmp_path, monkeypatch):
    project = fresh_project(tmp_path, monkeypatch, {"class_weight": {"balancing": {"seed": 1}}})
    with pytest.raises(ValueError, match=r"class_weight.balancing.seed is not a setting of class_weight.balancing"):
        run_pipelines(project, ["class_weight"])
    assert not (project / "data").exists()


@pytest.mark.slow
def test_combined_needing_more_synthetic_images_than_the_synthesis_makes_stops_before_any_node(tmp_path, monkeypatch):
    project = fresh_project(tmp_path, monkeypatch, {"combined": {"balancing": {"synthetic_share": 0.9}}})
    with pytest.raises(ValueError, match=r"Strategy 'combined' would need more synthetic images.*synthetic_share"):
        run_pipelines(project, ["combined"])
    assert not (project / "data").exists()


@pytest.mark.slow
def test_combined_needing_more_than_this_training_sets_gap_stops_before_the_gan_trains(tmp_path, monkeypatch):
    # share x scale = 0.97 passes the check on parameters alone, but with the tiny set's class
    # counts (NORMAL close to PNEUMONIA) combined needs more NORMAL images than the gap.
    project = fresh_project(tmp_path, monkeypatch, {"combined": {"balancing": {"synthetic_share": 0.75}}})
    with pytest.raises(ValueError, match=r"Strategy 'combined' needs \d+ synthetic images but the synthesis makes \d+"):
        run_pipelines(project, ["combined"])
    assert (project / "data/04_feature/train_set.npz").exists()
    assert not (project / "data/06_models/image_generators").exists()


@pytest.mark.slow
def test_combined_from_a_saved_training_set_with_too_small_a_gap_stops_before_the_gan_trains(tmp_path, monkeypatch):
    project = fresh_project(tmp_path, monkeypatch, {"combined": {"balancing": {"synthetic_share": 0.75}}})
    run_pipelines(project, ["data_preparation"])

    with pytest.raises(ValueError, match=r"Strategy 'combined' needs \d+ synthetic images but the synthesis makes \d+"):
        run_pipelines(project, ["combined"], from_nodes=["train_gan_node"])
    assert not (project / "data/06_models/image_generators").exists()


@pytest.mark.slow
def test_synthesis_report_on_a_fresh_clone_says_to_run_baseline_first(tmp_path, monkeypatch):
    project = fresh_project(tmp_path, monkeypatch, {})
    with pytest.raises(FileNotFoundError, match=r"baseline\.classifier \(made by `kedro run --pipeline baseline`\)") as error:
        run_pipelines(project, ["synthesis_report"])
    assert "Run first:" in str(error.value) and "`kedro run --pipeline baseline`" in str(error.value)
    assert not (project / "data").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"combined": {"balancing": {"synthetic_share": 0.9}}}, r"Strategy 'combined' would need more synthetic images"),
        ({"threshold": {"method": "best_guess"}}, r"threshold"),
        ({"gan": {"balancing": {"target_scale": 1.5}}}, r"gan.balancing.target_scale is not a setting of gan.balancing"),
        ({"study": {"gan_profiles": ["cpu", "gpu_huge"]}}, r"unknown GAN profiles \['gpu_huge'\]"),
    ],
)
def test_a_study_whose_jobs_would_fail_stops_before_any_node(tmp_path, monkeypatch, overrides, message):
    project = fresh_project(tmp_path, monkeypatch, {"study": {"strategies": ["baseline", "gan", "combined"]}} | overrides)
    with pytest.raises(ValueError, match=message):
        run_pipelines(project, ["study"])
    assert not (project / "data").exists()


def fresh_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: dict) -> Path:
    """A project as a fresh clone has it (nothing under data/), the tiny raw set and ``overrides``."""
    raw = make_raw_dataset(tmp_path / "raw" / "chest_xray")
    project = create_project(tmp_path / "project", {**TEST_PARAMETERS, "raw_data": {"root": str(raw)}, **overrides})
    monkeypatch.chdir(project)
    return project
