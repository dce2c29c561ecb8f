"""Seed ensembles: one Keras model computing sigmoid(mean of the members' logits), members recoverable."""

import keras
import numpy as np
from scipy.special import expit, logit

from pediatric_pneumonia.models.ensemble import build_ensemble, ensemble_members, is_ensemble, logit_model
from tests.inference.conftest import IMAGE_SIZE, seeded_classifiers


def probe(count: int = 6) -> np.ndarray:
    return np.random.default_rng(3).uniform(0, 255, (count, IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32)


def test_the_ensemble_outputs_the_sigmoid_of_the_mean_of_its_members_logits():
    members = seeded_classifiers(3)
    images = probe()
    member_logits = [logit(member.predict(images, verbose=0).reshape(-1).astype(np.float64)) for member in members]

    ensemble = build_ensemble(members)

    np.testing.assert_allclose(ensemble.predict(images, verbose=0).reshape(-1), expit(np.mean(member_logits, axis=0)), atol=1e-6)
    np.testing.assert_allclose(logit_model(ensemble).predict(images, verbose=0).reshape(-1), np.mean(member_logits, axis=0), atol=1e-5)


def test_a_one_member_ensemble_is_the_model_itself():
    (member,) = seeded_classifiers(1)

    assert build_ensemble([member]) is member
    assert not is_ensemble(member) and ensemble_members(member) == [member]


def test_the_members_come_back_out_as_their_logits_and_leave_the_trained_models_untouched():
    members = seeded_classifiers(2)
    images = probe(3)
    before = [member.predict(images, verbose=0).reshape(-1) for member in members]

    recovered = ensemble_members(build_ensemble(members))

    assert [member.name for member in recovered] == ["member_0", "member_1"]
    for member, probabilities in zip(recovered, before):
        np.testing.assert_allclose(expit(member.predict(images, verbose=0).reshape(-1)), probabilities, atol=1e-6)
    for member, probabilities in zip(members, before):
        assert member.layers[-1].activation is keras.activations.sigmoid
        np.testing.assert_array_equal(member.predict(images, verbose=0).reshape(-1), probabilities)
