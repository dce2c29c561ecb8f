"""The package on disk: what it keeps of a trained classifier, and the built-in package."""

import json

import keras
import numpy as np
from click.testing import CliRunner

from pediatric_pneumonia.cli import cli
from pediatric_pneumonia.inference import load_predictor
from pediatric_pneumonia.inference.builtin import BUILTIN_PACKAGE, MODEL_CARD_FILE, PROVENANCE_FILE
from pediatric_pneumonia.inference.package import MODEL_FILE, read_package
from tests.inference.conftest import IMAGE_SIZE, make_predictor
from tests.inference.test_predictor import write_jpeg


def test_a_package_keeps_the_weights_and_not_the_optimizer_state(tmp_path):
    predictor = make_predictor()
    classifier = predictor.classifier
    # one training step with a weight average: the optimizer now holds moments and an average
    classifier.compile(optimizer=keras.optimizers.Adam(use_ema=True), loss="binary_crossentropy")
    images = np.random.default_rng(0).uniform(0, 255, (8, IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32)
    classifier.fit(images, np.repeat([0.0, 1.0], 4), epochs=1, verbose=0)
    with_state = tmp_path / "with_state.keras"
    classifier.save(with_state)

    predictor.save(tmp_path / "package")

    saved, _ = read_package(tmp_path / "package")
    assert (tmp_path / "package" / MODEL_FILE).stat().st_size < 0.6 * with_state.stat().st_size
    np.testing.assert_allclose(saved.predict(images, verbose=0), classifier.predict(images, verbose=0), atol=1e-6)


def test_the_built_in_package_says_what_it_was_trained_on():
    provenance = json.loads((BUILTIN_PACKAGE / PROVENANCE_FILE).read_text())
    config = json.loads((BUILTIN_PACKAGE / "predictor.json").read_text())

    assert {"data", "commit", "command", "seed", "parameters"} <= set(provenance)
    assert config["decision"]["threshold"] > 0 and config["validation"]["roc_auc"] > 0.95
    assert sum(path.stat().st_size for path in BUILTIN_PACKAGE.iterdir()) < 10 * 2**20
    assert (BUILTIN_PACKAGE / MODEL_CARD_FILE).is_file()


def test_outside_any_project_predict_answers_with_the_built_in_model_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no conf/, no data/: a fresh install used anywhere
    image = write_jpeg(tmp_path / "x.jpeg", seed=1)

    predictor = load_predictor()
    result = CliRunner().invoke(cli, ["predict", str(image), "--format", "json"])

    assert predictor.name.startswith("built-in model, trained on")
    assert result.exit_code == 0, result.output
    assert "Model: built-in model, trained on" in result.stderr
    answer = json.loads(result.stdout)
    assert answer[0]["label"] in ("NORMAL", "PNEUMONIA") and 0 <= answer[0]["probability"] <= 1
    named = CliRunner().invoke(cli, ["predict", str(image), "--model", "builtin", "--format", "json"])
    assert named.exit_code == 0 and json.loads(named.stdout) == answer
