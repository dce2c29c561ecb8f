"""Every parameter group has one schema: the shipped configuration fits it, a wrong value gets a
message naming the key, what is allowed and the file, and a run stops on it before its first node."""

import os
import subprocess
import sys

import pytest
import yaml
from kedro.config import OmegaConfigLoader
from kedro.validation.exceptions import ParameterValidationError
from kedro.validation.parameter_validator import ParameterValidator

from pediatric_pneumonia.parameters import (
    GROUPS,
    Mixup,
    ParameterError,
    Training,
    check_parameters,
    check_study_gan_profiles,
    file_of,
    group_key,
    shared_parameters,
)
from pediatric_pneumonia.pipeline_registry import create_strategy_pipeline
from pediatric_pneumonia.settings import CONFIG_LOADER_ARGS
from pediatric_pneumonia.strategies import STRATEGIES
from tests.conftest import REPO_ROOT, TEST_PARAMETERS, create_project, make_raw_dataset, run_pipelines


def shipped_parameters(env: str) -> dict:
    """The parameters as Kedro reads them for ``env`` (merged over conf/base as the project merges)."""
    arguments = {**CONFIG_LOADER_ARGS, "default_run_env": env}
    return OmegaConfigLoader(str(REPO_ROOT / "conf"), **arguments)["parameters"]


def group_keys() -> list[str]:
    return [
        key
        for group in GROUPS
        for key in ([f"{strategy}.balancing" for strategy in STRATEGIES] if group == "balancing" else [group])
    ]


@pytest.fixture(scope="module", params=["base", "demo"])
def parameters(request) -> dict:
    return shipped_parameters("local" if request.param == "base" else request.param)


@pytest.mark.parametrize("key", group_keys())
def test_the_shipped_configuration_fits_every_schema(parameters, key):
    values = parameters
    for part in key.split("."):
        values = values[part]
    check_parameters(key, values)


def with_change(values: dict, dotted: str, value) -> dict:
    """A copy of ``values`` with the nested key ``dotted`` set to ``value``."""
    head, _, rest = dotted.partition(".")
    return {**values, head: with_change(values[head], rest, value) if rest else value}


@pytest.mark.parametrize(
    ("key", "change", "value", "message"),
    [
        (
            "training",
            "early_stopping.monitor",
            "val_f1",
            r"Unknown training.early_stopping.monitor 'val_f1': use one of \('val_loss', 'val_auc'\)",
        ),
        ("training", "epochs", 0, "training.epochs must be a positive integer, got 0"),
        ("training", "images_per_epoch", 2.5, "training.images_per_epoch must be a positive integer or null, got 2.5"),
        (
            "training",
            "architecture.batch_norm_momentum",
            1.0,
            r"training.architecture.batch_norm_momentum must be in \[0, 1\), got 1.0",
        ),
        (
            "training",
            "architecture.dense_units",
            [64],
            r"training.architecture.dense_units \[64\] and dropout_rates \[\] must have the same length",
        ),
        ("training", "augmentation.contrast", 1.5, r"training.augmentation.contrast must be in \[0, 1\), got 1.5"),
        (
            "training",
            "mixup.method",
            "manifold",
            r"Unknown training.mixup.method 'manifold': use one of \('none', 'mixup', 'cutmix'\)",
        ),
        ("training", "mixup.alpha", -0.2, "training.mixup.alpha must be a positive number, got -0.2"),
        (
            "training",
            "architecture.label_smoothing",
            1.0,
            r"training.architecture.label_smoothing must be in \[0, 1\), got 1.0",
        ),
        ("training", "architecture.weight_decay", -0.01, "training.architecture.weight_decay must be a number >= 0"),
        ("preprocessing", "intensity.percentiles", [99, 1], r"preprocessing.intensity.percentiles must be \[low, high\]"),
        ("reporting", "bootstrap_resamples", True, "reporting.bootstrap_resamples must be a positive integer, got True"),
        ("synthesis", "profiles.cpu.loss", "wasserstein", r"Unknown synthesis.profiles.cpu.loss 'wasserstein'"),
        ("synthesis", "profiles.cpu.optimizer", "adam", "synthesis.profiles.cpu: optimizer adam needs beta_1 and beta_2"),
        ("stress", "severities.blur", [0.0, 1.0], "stress.severities.blur .* moving steadily away"),
        ("shift", "warning_percentile", 100.0, r"shift.warning_percentile must be a percentile in \(0, 100\), got 100.0"),
        ("shift", "alpha", 0.0001, r"shift.alpha 0.0001 is below the smallest p-value 1000 permutations can give"),
        ("shift", "neighbours", 500, r"shift.neighbours \(500\) must be below shift.reference_size \(500\)"),
        ("combined.balancing", "synthetic_share", 1.5, r"combined.balancing.synthetic_share must be in \[0, 1\], got 1.5"),
        ("shortcuts", "strata", 1, "shortcuts.strata must be a whole number >= 2, got 1"),
        ("shortcuts", "gradcam_images", -1, "shortcuts.gradcam_images must be a whole number >= 0, got -1"),
        ("stress", "severities.markers", [2, 1], "stress.severities.markers .* moving steadily away"),
        ("search", "ray.asha.reduction_factor", 1, "search.ray.asha.reduction_factor must be a whole number >= 2, got 1"),
        ("training", "ensemble.members", 0, "training.ensemble.members must be a positive integer, got 0"),
        (
            "inference",
            "tta.transforms",
            ["shift_up", "flip_left_right"],
            r"Unknown inference.tta.transforms.1 'flip_left_right': use one of \('shift_up', 'shift_down'",
        ),
        ("inference", "tta.transforms", ["zoom_in", "zoom_in"], r"inference.tta.transforms \['zoom_in', 'zoom_in'\] must list distinct"),
        ("inference", "tta.shift_fraction", 0.5, r"inference.tta.shift_fraction must be a fraction of the side in \(0, 0.2\], got 0.5"),
        ("inference", "tta.zoom", 0.0, r"inference.tta.zoom must be a zoom step \(scale 1 \+- zoom\) in \(0, 0.3\], got 0.0"),
        ("site", "min_images", 0, "site.min_images must be a positive integer, got 0"),
    ],
)
def test_a_wrong_value_names_its_key_what_is_allowed_and_the_file(parameters, key, change, value, message):
    group = parameters
    for part in key.split("."):
        group = group[part]
    with pytest.raises(ParameterError, match=message) as error:
        check_parameters(key, with_change(group, change, value))
    assert f"Set in {file_of(key)}; a `kedro run --params` value or a conf/<env> file" in str(error.value)


def test_a_misspelt_key_is_refused_with_the_settings_of_its_block(parameters):
    training = {**parameters["training"], "early_stoping": {"monitor": "val_loss", "patience": 2}}
    with pytest.raises(ParameterError, match=r"training.early_stoping is not a setting of training: its settings are \["):
        check_parameters("training", training)


def test_a_missing_key_says_what_to_set(parameters):
    calibration = {"method": "temperature"}
    with pytest.raises(ParameterError, match="calibration.bins is missing: set it to a positive integer"):
        check_parameters("calibration", calibration)


def test_every_problem_of_a_group_is_listed_at_once(parameters):
    reporting = {**parameters["reporting"], "bootstrap_resamples": 0, "patient_aggregation": "median"}
    with pytest.raises(ParameterError) as error:
        check_parameters("reporting", reporting)
    assert "reporting.bootstrap_resamples" in str(error.value)
    assert "Unknown reporting.patient_aggregation 'median': use one of ('mean', 'max')" in str(error.value)


def test_each_strategy_block_takes_the_settings_of_its_method_from_the_table():
    with pytest.raises(ParameterError, match=r"baseline.balancing.seed is not a setting of baseline.balancing"):
        check_parameters("baseline.balancing", {"seed": 1})
    with pytest.raises(ParameterError, match="oversample.balancing.seed is missing: set it to an integer"):
        check_parameters("oversample.balancing", {})


def test_combined_needing_more_synthetic_images_than_the_gap_is_refused_with_the_fix(parameters):
    combined = {**parameters["combined"]["balancing"], "target_scale": 1.29, "synthetic_share": 0.9}
    with pytest.raises(ValueError, match=r"combined.*0.9 x 1.29 = 1.161.*synthetic_share to at most 0.775"):
        check_parameters("combined.balancing", combined)
    check_parameters("combined.balancing", {**combined, "synthetic_share": 0.5})


def test_a_study_listing_an_unknown_gan_profile_is_refused(parameters):
    study = {**parameters["study"], "gan_profiles": ["cpu", "gpu_huge"]}
    with pytest.raises(ParameterError, match=r"unknown GAN profiles \['gpu_huge'\]"):
        check_study_gan_profiles(check_parameters("study", study), parameters["synthesis"]["profiles"])


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_group_is_set_in_the_file_the_registry_names(group):
    """The file a message tells the user to fix is the file that sets the group."""
    path = REPO_ROOT / file_of(f"baseline.{group}" if group == "balancing" else group)
    assert path.is_file()
    written = yaml.safe_load(path.read_text())
    if group == "balancing":
        assert set(STRATEGIES) <= set(written) and all("balancing" in written[strategy] for strategy in STRATEGIES)
    else:
        assert group in written


def test_every_node_types_the_groups_it_reads_except_each_strategys_balancing():
    """Kedro validates a group only for the nodes that type it: every other group must be typed."""
    from kedro.validation.type_extractor import TypeExtractor

    from pediatric_pneumonia.pipeline_registry import register_pipelines

    pipelines = register_pipelines()
    typed = TypeExtractor({"__default__": pipelines["__default__"]}).extract_types_from_pipelines()
    read = {name.removeprefix("params:") for name in pipelines["__default__"].inputs() if name.startswith("params:")}
    untyped = {key for key in read if key not in typed and "." not in key}
    assert untyped == set()
    assert {key for key in read if key.endswith(".balancing")} & set(typed) == set()


def test_parameter_names_map_to_their_group():
    assert group_key("params:raw_data.classes") == "raw_data"
    assert group_key("params:combined.balancing") == "combined.balancing"
    assert group_key("params:training") == "training"
    assert group_key("params:demo_data") is None


def test_a_strategy_shares_every_parameter_group_but_its_balancing_block():
    read = {name for name in create_strategy_pipeline("combined").inputs() if name.startswith("params:")}
    assert {name for name in read if name.startswith("params:combined.")} == {"params:combined.balancing"}
    assert {"params:training", "params:raw_data.classes"} <= read
    assert shared_parameters(["params:balancing", "params:training", "params:raw_data.classes"]) == {
        "params:training",
        "params:raw_data.classes",
    }


def test_importing_the_hooks_imports_no_model_code():
    """Every KedroSession imports the hooks: they must not drag in Keras or TensorFlow."""
    code = (
        "import sys, pediatric_pneumonia.hooks, pediatric_pneumonia.parameters; "
        "print(sorted(name for name in ('keras', 'tensorflow') if name in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True, cwd=REPO_ROOT
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_a_wrong_parameter_stops_the_run_before_the_first_node(tmp_path, monkeypatch):
    raw = make_raw_dataset(tmp_path / "raw" / "chest_xray")
    project = create_project(tmp_path / "project", {**TEST_PARAMETERS, "raw_data": {"root": str(raw)}})
    monkeypatch.chdir(project)
    # Kedro's parameter validation (the node types its group) raises it, with our message.
    with pytest.raises(ParameterValidationError, match="(?s)Unknown training.early_stopping.monitor 'val_f1'.*Set in conf/base"):
        run_pipelines(project, ["baseline"], runtime_params={"training": {"early_stopping": {"monitor": "val_f1"}}})
    assert not (project / "data").exists()


def test_a_node_receives_its_group_checked_with_the_defaults_the_yaml_leaves_out():
    shipped = shipped_parameters("base")
    training = {key: value for key, value in shipped["training"].items() if key not in ("mixup", "ensemble")}
    validator = ParameterValidator({"baseline": create_strategy_pipeline("baseline")})
    validated = validator.validate_raw_params({**shipped, "training": training})["training"]
    assert isinstance(validated, Training)
    assert validated.mixup == Mixup(method="none", alpha=0.2) and validated.ensemble.members == 1
    assert validated.architecture.label_smoothing == 0.0 and validated.architecture.weight_decay == 0.0


@pytest.mark.slow
def test_an_image_size_the_family_cannot_take_stops_the_run_before_the_first_node(tmp_path, monkeypatch):
    raw = make_raw_dataset(tmp_path / "raw" / "chest_xray")
    project = create_project(tmp_path / "project", {**TEST_PARAMETERS, "raw_data": {"root": str(raw)}})
    monkeypatch.chdir(project)
    with pytest.raises(ParameterError, match=r"family 'densenet121'\) needs images of at least 32 x 32 pixels, but "
                       r"preprocessing.image_size is 28"):
        run_pipelines(
            project,
            ["baseline"],
            runtime_params={"training": {"architecture": {"family": "densenet121"}}, "preprocessing": {"image_size": 28}},
        )
    assert not (project / "data").exists()
