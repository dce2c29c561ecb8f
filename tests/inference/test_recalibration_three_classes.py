"""recalibrate with a three-class (NORMAL, BACTERIA, VIRUS) predictor: its one softmax temperature
and its threshold on P(pneumonia) refitted on a site's labels into a new package that keeps its
classes; a site missing a class refused naming it; the few-labels policy and separated classes."""

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import softmax

from pediatric_pneumonia.cli import cli
from pediatric_pneumonia.data_layout import labelled_files
from pediatric_pneumonia.evaluation.calibration import fit_temperature
from pediatric_pneumonia.evaluation.site import score_site
from pediatric_pneumonia.inference import Predictor, load_predictor
from pediatric_pneumonia.inference.recalibration import (
    RecalibrationError,
    classes_separated,
    recalibrated_predictor,
    save_new_package,
)
from tests.evaluation.site_data import write_flat_png
from tests.inference.test_recalibration import BASE, site_settings
from tests.inference.test_three_class_package import BIASES, CLASSES, WEIGHTS, expected, three_class_predictor

# The model calls levels below ~96 NORMAL, above ~159 VIRUS, BACTERIA between: 120 (NORMAL), 80
# and 170 (BACTERIA) and 140 (VIRUS) are called wrong, so the likeliest temperature is finite.
SITE_LEVELS = {
    "NORMAL": [10, 30, 50, 70, 120],
    "BACTERIA": [80, 100, 110, 130, 150, 170],
    "VIRUS": [140, 180, 200, 220, 240],
}


def make_three_class_site(root, levels: dict[str, list[int]] = SITE_LEVELS):
    """NORMAL/, BACTERIA/ and VIRUS/ folders of flat gray PNGs with public-style names."""
    for name, class_levels in levels.items():
        for index, level in enumerate(class_levels, start=1):
            file = f"IM-{index:04d}-0001.png" if name == "NORMAL" else f"person{index}_{name.lower()}_{index}.png"
            write_flat_png(root / name / file, level)
    return root


def with_temperature(temperature: float) -> Predictor:
    base = three_class_predictor()
    return Predictor(
        base.classifier, {**base.config, "calibration": {"method": "temperature", "temperature": temperature}}
    )


def recalibrated(base: Predictor, site, settings, **options) -> Predictor:
    return recalibrated_predictor(base, score_site(base, labelled_files(site, CLASSES)), settings, BASE, **options)


def site_arrays(levels: dict[str, list[int]] = SITE_LEVELS) -> tuple[np.ndarray, np.ndarray]:
    """The site's class indices and the model's raw (N, 3) probabilities, known in closed form."""
    targets = np.concatenate([[CLASSES.index(name)] * len(values) for name, values in levels.items()])
    return targets, expected(sum(levels.values(), []))


def test_a_three_class_site_refits_the_softmax_temperature_and_the_pneumonia_threshold_into_a_new_package(tmp_path):
    three_class_predictor().save(tmp_path / "base")
    base = load_predictor(tmp_path / "base")
    site = make_three_class_site(tmp_path / "site")

    written = load_predictor(save_new_package(recalibrated(base, site, site_settings(min_images=5)), tmp_path / "new"))

    targets, raw = site_arrays()
    temperature = written.config["calibration"]["temperature"]
    assert written.classes == CLASSES and base.config["calibration"]["temperature"] == 1.0
    assert temperature == pytest.approx(fit_temperature(targets, raw), rel=1e-3) and temperature < 0.7
    # Youden on P(pneumonia): every pneumonia image is at level 80 or above, one NORMAL (120) too,
    # so the best cut-off is P(pneumonia) of level 80 under the new temperature.
    level_80 = softmax((80 / 255 * WEIGHTS + BIASES) / temperature, axis=1)[0]
    decision = written.config["decision"]
    assert decision["rule"] == "argmax" and decision["threshold"] == pytest.approx(1 - level_80[0], abs=1e-5)
    assert decision["validation_sensitivity"] == 1.0 and decision["validation_specificity"] == 0.8
    provenance = written.config["provenance"]
    assert provenance["site"]["class_counts"] == {"NORMAL": 5, "BACTERIA": 6, "VIRUS": 5}
    assert provenance["operating_point"]["sensitivity"] == 1.0 and provenance["limits"] == []
    assert written.predict_batch([np.full((8, 8), 240, np.uint8)])[0].label == "VIRUS"


def test_adabn_rescoring_gives_a_three_class_model_the_same_refit(tmp_path):
    base = three_class_predictor()  # no BatchNormalization layer: the rescored site scores the same
    site = make_three_class_site(tmp_path / "site")

    plain = recalibrated(base, site, site_settings(min_images=5))
    adapted = recalibrated(base, site, site_settings(min_images=5), adapt_batchnorm=True)

    assert adapted.config["provenance"]["methods"]["batchnorm_layers_adapted"] == 0
    assert adapted.config["calibration"]["temperature"] == pytest.approx(
        plain.config["calibration"]["temperature"], rel=1e-4
    )


def test_a_site_missing_a_class_is_refused_naming_it(tmp_path):
    site = make_three_class_site(tmp_path / "site", {"NORMAL": [10, 30], "BACTERIA": [120, 130]})

    with pytest.raises(
        RecalibrationError, match=r"hold no VIRUS images \(\{'NORMAL': 2, 'BACTERIA': 2, 'VIRUS': 0\}\)"
    ) as refused:
        recalibrated(three_class_predictor(), site, site_settings(min_images=2))
    assert (
        "Add images of the missing class (VIRUS: a VIRUS/ folder, CSV rows labelled VIRUS, or PNEUMONIA/ files named personN_virus_M)"
        in str(refused.value)
    )


def test_below_the_minimum_the_few_labels_policy_sets_the_three_class_temperature(tmp_path):
    site = make_three_class_site(tmp_path / "site")

    kept = load_predictor(
        save_new_package(
            recalibrated(with_temperature(1.3), site, site_settings(min_images=100, few_labels="threshold_only")),
            tmp_path / "new",
        )
    )

    assert kept.config["calibration"]["temperature"] == pytest.approx(1.3) and kept.classes == CLASSES
    assert kept.caveats == [
        "recalibrated on 16 labelled images, fewer than site.min_images = 100 (site.few_labels: threshold_only)"
    ]
    with pytest.raises(
        RecalibrationError,
        match=r"Only 16 labelled images, fewer than site.min_images = 100, and site.few_labels is 'refuse'",
    ):
        recalibrated(with_temperature(1.3), site, site_settings(min_images=100, few_labels="refuse"))


def test_a_three_class_site_every_image_of_which_the_model_ranks_right_keeps_the_base_temperature(tmp_path):
    levels = {"NORMAL": [10, 30, 50], "BACTERIA": [110, 130, 150], "VIRUS": [180, 210, 240]}
    site = make_three_class_site(tmp_path / "site", levels)

    kept = recalibrated(with_temperature(0.8), site, site_settings(min_images=5))

    assert classes_separated(*site_arrays(levels)) and not classes_separated(*site_arrays())
    assert kept.config["calibration"]["temperature"] == pytest.approx(0.8)
    assert kept.caveats == ["the site's classes are perfectly separated: the base temperature 0.800 is kept"]


def test_recalibrate_writes_a_three_class_package_and_prints_its_operating_point_and_caveats(tmp_path, monkeypatch):
    three_class_predictor().save(tmp_path / "base")
    site = make_three_class_site(tmp_path / "site")
    monkeypatch.chdir(tmp_path)  # no project here: the packaged parameters (site.min_images 100, shrink)

    result = CliRunner().invoke(
        cli, ["recalibrate", str(site), "--model", str(tmp_path / "base"), "--output", str(tmp_path / "new")]
    )

    assert result.exit_code == 0, result.output
    new = Predictor.from_package(tmp_path / "new")
    assert new.classes == CLASSES and new.config["decision"]["rule"] == "argmax"
    assert f"threshold 0.600 -> {new.threshold:.3f}" in result.stdout
    assert f"argmax accuracy {new.config['decision']['validation_accuracy']:.3f}." in result.stdout
    few = "recalibrated on 16 labelled images, fewer than site.min_images = 100 (site.few_labels: shrink)"
    assert f"Caution (recorded in the package; every prediction with it repeats it): {few}." in result.stderr
