"""The shift reference a predictor package carries: saved and loaded with it, used for every
prediction's out-of-distribution score and for ``check_shift``; a package without one still
predicts, and ``check_shift`` says which package format added it."""

import json

import numpy as np
import pytest

from pediatric_pneumonia.inference import NoShiftReferenceError, Predictor
from pediatric_pneumonia.inference.package import CONFIG_FILE, REFERENCE_FILE, ModelLoadError
from pediatric_pneumonia.models.ensemble import ensemble_members
from pediatric_pneumonia.models.features import embed, feature_extractor
from tests.inference.conftest import make_ensemble_predictor, smooth_images, with_shift_reference


def test_the_package_round_trip_carries_the_reference(tmp_path, referenced_predictor):
    referenced_predictor.save(tmp_path / "package")

    loaded = Predictor.from_package(tmp_path / "package")

    assert (tmp_path / "package" / REFERENCE_FILE).is_file()
    recorded = json.loads((tmp_path / "package" / CONFIG_FILE).read_text())["shift_reference"]
    assert recorded["file"] == REFERENCE_FILE and recorded["count"] == 60 and recorded["feature_layer"] == "conv_2"
    for name in ("features", "probabilities"):
        np.testing.assert_array_equal(loaded.shift_reference[name], referenced_predictor.shift_reference[name])
    images = smooth_images(3, seed=5)
    np.testing.assert_allclose(loaded.ood_scores(images), referenced_predictor.ood_scores(images))


def test_a_package_whose_reference_file_is_gone_names_it(tmp_path, referenced_predictor):
    referenced_predictor.save(tmp_path / "package")
    (tmp_path / "package" / REFERENCE_FILE).unlink()

    with pytest.raises(ModelLoadError, match=f"{REFERENCE_FILE}.*Copy the whole package folder"):
        Predictor.from_package(tmp_path / "package")


def test_predictions_carry_the_ood_score_and_a_warning_for_an_image_unlike_validation(referenced_predictor):
    like_validation = smooth_images(1, seed=100)[0]  # one of the reference's own images
    unlike = np.zeros_like(like_validation)
    unlike[::2] = 255  # stripes: nothing like the smooth validation images

    typical, outlier = referenced_predictor.predict_batch([like_validation, unlike])

    assert typical.ood_score < 99 and typical.ood_warning is None
    stored = np.stack([like_validation, unlike])
    np.testing.assert_allclose([typical.probability, outlier.probability], referenced_predictor.probabilities(stored), atol=1e-6)
    assert outlier.ood_score == 100.0
    assert "looks unlike the images the model was validated on" in outlier.ood_warning
    assert referenced_predictor.explain(unlike, "upload").prediction.ood_score == 100.0


def test_a_package_without_reference_predicts_and_check_shift_names_the_format_that_added_it(predictor):
    prediction = predictor.predict(smooth_images(1, seed=1)[0])

    assert prediction.ood_score is None and prediction.ood_warning is None
    with pytest.raises(NoShiftReferenceError, match=r"carries no shift reference.*package format 2.*Retrain it"):
        predictor.check_shift(smooth_images(10, seed=1))


def test_check_shift_is_quiet_on_more_of_the_same_and_loud_on_a_planted_shift(referenced_predictor):
    same = smooth_images(40, seed=7)
    noise = np.random.default_rng(0).normal(0, 40, same.shape)
    shifted = np.clip(same + noise, 0, 255).astype(np.uint8)  # a noisy detector (equalisation undoes brightness)

    quiet, loud = referenced_predictor.check_shift(same), referenced_predictor.check_shift(shifted)

    assert not quiet["mmd"]["shifted"], quiet["mmd"]
    assert loud["mmd"]["shifted"] and loud["shifted"]
    assert len(loud["image_scores"]) == 40


def test_an_ensemble_with_test_time_augmentation_scores_as_it_predicts_and_embeds_its_first_member():
    plain = make_ensemble_predictor(members=2)
    tta = {"transforms": ["shift_down", "zoom_out"], "shift_fraction": 0.1, "zoom": 0.2}
    referenced = with_shift_reference(Predictor(plain.classifier, {**plain.config, "inference": {"batch_size": 64, "tta": tta}}), smooth_images(30, seed=7))
    images = smooth_images(12, seed=8)

    probabilities, scores = referenced.probabilities_and_ood_scores(images)

    assert referenced.tta == tta
    np.testing.assert_allclose(probabilities, referenced.probabilities(images), atol=1e-7)
    first_member = feature_extractor(ensemble_members(referenced.classifier)[0])
    intensity = referenced.preprocessing["intensity"]
    np.testing.assert_allclose(referenced.features(images), embed(first_member, images, intensity, 64), atol=1e-5)
    assert len(scores) == 12 and all(0 <= score <= 100 for score in scores)
    assert referenced.check_shift(images, permutations=19)["mmd"]["p_value"] > 0
