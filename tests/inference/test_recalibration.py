"""recalibrate: the temperature and threshold refitted on a site's labels into a new package, the
base untouched; AdaBN; refusals; the registered version's provenance in a real SQLite store."""

import hashlib

import keras
import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from pediatric_pneumonia.data_layout import labelled_files
from pediatric_pneumonia.evaluation.site import score_site
from pediatric_pneumonia.inference import Predictor, load_predictor
from pediatric_pneumonia.inference.mlflow_model import log_predictor_model, register_recalibrated
from pediatric_pneumonia.inference.recalibration import (
    RecalibrationError,
    adapted_batchnorm,
    content_fingerprint,
    recalibrated_predictor,
    save_new_package,
    site_temperature,
)
from pediatric_pneumonia.parameters import check_parameters
from tests.conftest import CLASSES
from tests.evaluation.site_data import PNEUMONIA_LEVELS, REPORTING, gray_predictor, make_site
from tests.inference.conftest import make_predictor, smooth_images, with_shift_reference
from tests.pipelines.reporting.tiny_model import expected_probability

SETTINGS = {
    "calibration": check_parameters("calibration", {"method": "none", "bins": 10}),
    "threshold": check_parameters("threshold", {"method": "youden", "value": 0.5, "sensitivity_target": 0.95}),
    "reporting": REPORTING,
    "site": check_parameters("site", {"min_images": 5, "few_labels": "shrink", "max_interval_width": 1.0}),
}
TEMPERATURE = check_parameters("calibration", {"method": "temperature", "bins": 10})


def site_settings(**site) -> dict:
    """SETTINGS with the temperature refitted and these site parameters."""
    return {**SETTINGS, "calibration": TEMPERATURE, "site": check_parameters("site", {**SETTINGS["site"].model_dump(), **site})}
BASE = {"model_uri": "base", "path": "base"}


def scored(predictor, site):
    return score_site(predictor, labelled_files(site, CLASSES))


def folder_hashes(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


def test_recalibration_finds_the_sites_best_threshold_and_leaves_the_base_package_byte_identical(tmp_path):
    gray_predictor().save(tmp_path / "base")
    before = folder_hashes(tmp_path / "base")
    base = Predictor.from_package(tmp_path / "base")
    site = make_site(tmp_path / "site")

    recalibrated = recalibrated_predictor(base, scored(base, site), SETTINGS, BASE, site_name="clinic-a")
    written = save_new_package(recalibrated, tmp_path / "new")

    # Every level from 60 up is pneumonia: the best cut-off is the probability of level 60.
    assert recalibrated.threshold == pytest.approx(float(expected_probability([min(PNEUMONIA_LEVELS)])[0]), abs=1e-6)
    assert base.threshold == 0.5 and folder_hashes(tmp_path / "base") == before
    provenance = load_predictor(written).config["provenance"]
    assert provenance["site"]["class_counts"] == {"NORMAL": 5, "PNEUMONIA": 6} and provenance["site"]["name"] == "clinic-a"
    assert provenance["site"]["content_fingerprint"] == content_fingerprint(sorted(str(p) for p in site.rglob("*.png")))
    assert provenance["methods"] == {"calibration": "none", "threshold": "youden", "adapt_batchnorm": False, "batchnorm_layers_adapted": 0}
    assert provenance["operating_point"]["sensitivity"] == 1.0 and provenance["operating_point"]["specificity_ci_low"] == 1.0
    assert provenance["base_decision"]["threshold"] == 0.5 and "validation" not in recalibrated.config


def test_the_temperature_is_refitted_with_the_trainings_function(tmp_path):
    base = gray_predictor(temperature=1.0)
    site = make_site(tmp_path / "site", normal=[10, 20, 80, 120], pneumonia=[60, 140, 180, 230])
    recalibrated = recalibrated_predictor(base, scored(base, site), site_settings(), BASE)

    assert recalibrated.config["calibration"]["method"] == "temperature"
    assert recalibrated.config["calibration"]["temperature"] != pytest.approx(1.0, abs=1e-3)


def test_the_fingerprint_depends_on_the_contents_not_the_names(tmp_path):
    first, second = make_site(tmp_path / "a"), make_site(tmp_path / "b")
    (second / "NORMAL" / "IM-0001-0001.png").rename(second / "NORMAL" / "renamed.png")

    assert content_fingerprint([str(p) for p in first.rglob("*.png")]) == content_fingerprint([str(p) for p in second.rglob("*.png")])
    assert content_fingerprint([str(p) for p in first.rglob("*.png")][1:]) != content_fingerprint([str(p) for p in first.rglob("*.png")])


def test_a_one_class_site_is_refused(tmp_path):
    base = gray_predictor()

    with pytest.raises(RecalibrationError, match=r"one class only \(\{'NORMAL': 0, 'PNEUMONIA': 6\}\).*Add images of the missing class"):
        recalibrated_predictor(base, scored(base, make_site(tmp_path / "site", normal=[])), SETTINGS, BASE)


def test_a_small_separable_site_keeps_the_base_temperature_and_says_so_in_the_package(tmp_path):
    # The failure reported: 30 separable images fitted a temperature of 0.01 (the search bound),
    # saturated every probability and moved the threshold to 1.0, reported as success.
    base = gray_predictor(temperature=0.9)
    site = make_site(tmp_path / "site", normal=list(range(10, 40, 2)), pneumonia=list(range(140, 170, 2)))

    recalibrated = recalibrated_predictor(base, scored(base, site), site_settings(min_images=100), BASE)
    written = load_predictor(save_new_package(recalibrated, tmp_path / "new"))

    assert written.config["calibration"]["temperature"] == pytest.approx(0.9)
    assert written.threshold < 1.0
    limits = written.config["provenance"]["limits"]
    assert limits[0] == "recalibrated on 30 labelled images, fewer than site.min_images = 100 (site.few_labels: shrink)"
    assert limits[1] == "the site's classes are perfectly separated: the base temperature 0.900 is kept"
    assert written.caveats == limits


def test_a_temperature_at_its_search_bound_is_not_kept(tmp_path):
    # Brighter images are NORMAL here, against the model: the likelihood improves up to T = 100.
    base = gray_predictor(temperature=1.5)
    site = make_site(tmp_path / "site", normal=[150, 170, 190, 210, 230], pneumonia=[10, 30, 50, 70, 160, 180])

    recalibrated = recalibrated_predictor(base, scored(base, site), site_settings(), BASE)

    assert recalibrated.config["calibration"]["temperature"] == pytest.approx(1.5)
    assert recalibrated.caveats == ["the fitted temperature 100.000 sits at its search bound: the base temperature 1.500 is kept"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("refit", 4.0), ("threshold_only", 1.0), ("shrink", float(np.exp(0.2 * np.log(4.0))))],
)
def test_below_the_minimum_the_policy_sets_the_temperature(policy, expected):
    site = check_parameters("site", {"min_images": 100, "few_labels": policy, "max_interval_width": 0.2})

    assert site_temperature(4.0, 1.0, 25, site) == pytest.approx(expected)
    assert site_temperature(4.0, 1.0, 100, site) == 4.0


def test_below_the_minimum_refuse_writes_nothing(tmp_path):
    base = gray_predictor()

    with pytest.raises(RecalibrationError, match=r"Only 11 labelled images, fewer than site.min_images = 50, and site.few_labels is 'refuse'"):
        recalibrated_predictor(base, scored(base, make_site(tmp_path / "site")), site_settings(min_images=50, few_labels="refuse"), BASE)


def test_an_interval_wider_than_the_tolerance_is_a_limit(tmp_path):
    base = gray_predictor()
    site = make_site(tmp_path / "site", normal=[10, 20, 30, 65, 75], pneumonia=[25, 35, 60, 70, 110, 150])
    settings = {**SETTINGS, "site": check_parameters("site", {"min_images": 5, "few_labels": "shrink", "max_interval_width": 0.2})}

    recalibrated = recalibrated_predictor(base, scored(base, site), settings, BASE)

    point = recalibrated.config["provenance"]["operating_point"]
    assert point["sensitivity_ci_high"] - point["sensitivity_ci_low"] > 0.2
    assert any(caveat.startswith("the sensitivity interval") and "wider than site.max_interval_width = 0.20" in caveat for caveat in recalibrated.caveats)


def test_an_existing_package_is_never_overwritten(tmp_path):
    gray_predictor().save(tmp_path / "base")
    before = folder_hashes(tmp_path / "base")

    with pytest.raises(RecalibrationError, match="already holds a predictor package: it is not overwritten"):
        save_new_package(gray_predictor(threshold=0.3), tmp_path / "base")
    assert folder_hashes(tmp_path / "base") == before


def test_adabn_sets_every_batchnorm_layers_statistics_to_the_sites_and_keeps_the_original(tmp_path):
    predictor = make_predictor()
    rng = np.random.default_rng(0)
    images = rng.integers(100, 140, (12, 32, 32), dtype=np.uint8)
    original = [layer.moving_mean.numpy().copy() for layer in predictor.classifier.layers if isinstance(layer, keras.layers.BatchNormalization)]

    adapted, count = adapted_batchnorm(predictor.classifier, predictor.model_input(images), batch_size=4)

    layer = next(layer for layer in adapted.layers if isinstance(layer, keras.layers.BatchNormalization))
    inputs = keras.Model(adapted.inputs, layer.input).predict(predictor.model_input(images), verbose=0)
    assert count == 1 == len(original)
    np.testing.assert_allclose(layer.moving_mean.numpy(), inputs.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), inputs.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-5)
    np.testing.assert_array_equal(
        next(layer for layer in predictor.classifier.layers if isinstance(layer, keras.layers.BatchNormalization)).moving_mean.numpy(), original[0]
    )


def test_with_adabn_the_provenance_says_so_and_the_site_is_rescored(tmp_path):
    base = make_predictor()
    site = make_site(tmp_path / "site")

    recalibrated = recalibrated_predictor(base, scored(base, site), SETTINGS, BASE, adapt_batchnorm=True)

    assert recalibrated.config["provenance"]["methods"]["batchnorm_layers_adapted"] == 1
    assert recalibrated.classifier is not base.classifier


def test_the_new_package_keeps_the_bases_shift_reference_unless_batchnorm_was_adapted(tmp_path):
    base = with_shift_reference(make_predictor(), smooth_images(20, seed=3))
    site = make_site(tmp_path / "site")

    kept = load_predictor(save_new_package(recalibrated_predictor(base, scored(base, site), SETTINGS, BASE), tmp_path / "kept"))
    adapted = recalibrated_predictor(base, scored(base, site), SETTINGS, BASE, adapt_batchnorm=True)
    adapted_package = load_predictor(save_new_package(adapted, tmp_path / "adapted"))

    np.testing.assert_array_equal(kept.shift_reference["features"], base.shift_reference["features"])
    assert kept.config["shift_reference"] == base.config["shift_reference"]
    assert adapted_package.shift_reference is None and "shift_reference" not in adapted_package.config


def test_the_registered_recalibrated_version_carries_its_provenance_and_the_base_stays(tracking, tmp_path):
    base = gray_predictor()
    base.config["validation"] = {"roc_auc": 0.9}
    with mlflow.start_run():
        log_predictor_model(base, "site_test", "baseline_model")
    client = MlflowClient()
    base_version = client.get_model_version("site_test", "1")
    loaded = load_predictor("models:/site_test@best")
    recalibrated = recalibrated_predictor(loaded, scored(loaded, make_site(tmp_path / "site")), SETTINGS, BASE, "clinic-a")

    name, version = register_recalibrated(recalibrated, "models:/site_test@best", "clinic-a")

    assert (name, version) == ("site_test", "2")
    new = client.get_model_version(name, version)
    assert new.tags["site"] == "clinic-a" and new.tags["recalibrated_from_version"] == "1"
    assert new.tags["site_content_fingerprint"] == recalibrated.config["provenance"]["site"]["content_fingerprint"]
    assert load_predictor("models:/site_test/2").config["provenance"] == recalibrated.config["provenance"]
    assert str(client.get_model_version_by_alias(name, "best").version) == "1"
    assert client.get_model_version(name, "1").tags == base_version.tags
    assert load_predictor("models:/site_test/1").threshold == 0.5


def test_register_needs_a_registered_base(tracking, tmp_path):
    base = gray_predictor()
    recalibrated = recalibrated_predictor(base, scored(base, make_site(tmp_path / "site")), SETTINGS, BASE)

    with pytest.raises(ValueError, match="--register needs the base model as a registered model URI"):
        register_recalibrated(recalibrated, str(tmp_path / "base"), "clinic-a")
