import pytest

from pediatric_pneumonia.evaluation.model_card import LIMITATIONS
from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.model_card.nodes import write_model_card
from tests.conftest import preprocessing_parameters, training_parameters


def card_of(inputs: dict, **changes) -> str:
    """The card of ``inputs`` with some inputs replaced, by dataset name."""
    values = {**inputs, **changes}
    return write_model_card(
        values["test_metrics"],
        values["calibration"],
        values["decision_threshold"],
        values["stress_metrics"],
        values["training_history"],
        values["image_split"],
        training_parameters(**values["params:training"]),
        preprocessing_parameters(**values["params:preprocessing"]),
        check_parameters("reporting", values["params:reporting"]),
        check_parameters("ingestion", values["params:ingestion"]),
        values["params:raw_data.classes"],
        values["searched_architecture"],
        strategy="combined",
    )


def test_card_says_plainly_it_is_not_a_diagnostic_device(card_inputs):
    card = card_of(card_inputs)
    assert card.startswith("# Model card: pediatric pneumonia classifier, `combined` strategy")
    assert "**Not a diagnostic device.**" in card
    assert all(limitation in card for limitation in LIMITATIONS)
    assert "Guangzhou" in card


def test_card_holds_the_test_figures_with_their_intervals(card_inputs):
    card = card_of(card_inputs)
    assert "| accuracy | 0.871 | 0.841 to 0.899 | 0.827 | 0.883 | 0.870 |" in card
    assert "| sensitivity | 0.942 | 0.912 to 0.966 | 0.987 | 0.956 | n/a |" in card
    assert "| roc_auc | 0.938 | 0.914 to 0.958 | 0.938 |" in card
    # Metrics without a bootstrap interval say so rather than show a made-up one.
    assert "| precision | 0.865 | n/a |" in card
    assert "624 test images (NORMAL 234, PNEUMONIA 390) from 411 patients" in card
    assert "The 95% intervals come from 1,000 bootstrap resamples of patients" in card
    assert "bacteria: 0.967 (242 images); virus: 0.905 (148 images)" in card
    assert "repeating a training image: 3; repeating an earlier test image: 2" in card


def test_card_holds_the_validation_operating_point_and_calibration(card_inputs):
    card = card_of(card_inputs)
    assert "Decision threshold: 0.623 (method `youden`" in card
    assert "Validation sensitivity 0.934, specificity 0.881" in card
    assert "Validation ROC-AUC 0.971" in card
    assert "Calibration: `temperature`, temperature 1.877." in card
    assert "| expected calibration error (ECE) | 0.112 | 0.035 |" in card
    assert "resamples of validation" not in card  # one cut-off: no interval to state
    resampled = {**card_inputs["decision_threshold"], "bootstrap_resamples": 200, "threshold_interval": [0.51, 0.72]}
    card = card_of({**card_inputs, "decision_threshold": resampled})
    assert (
        "Decision threshold: 0.623 (method `youden`, chosen on calibrated validation probabilities, the median over "
        "200 resamples of validation; 5th-95th percentile 0.510-0.720)." in card
    )


def test_card_counts_images_and_patients_per_subset_and_class(card_inputs):
    card = card_of(card_inputs)
    assert "| subset | NORMAL images | NORMAL patients | PNEUMONIA images | PNEUMONIA patients |" in card
    # Train: 1 normal image (1 patient), 3 pneumonia images from 2 patients.
    assert "| train | 1 | 1 | 3 | 2 |" in card
    assert "| validation | 1 | 1 | 1 | 1 |" in card
    assert "patients found in more than one subset: 0" in card
    assert "patient key `person_and_subtype`" in card


def test_card_reports_a_patient_seen_in_two_subsets(card_inputs):
    image_split = card_inputs["image_split"].copy()
    image_split.loc[image_split["subset"] == "test", "patient_id"] = "IM-1"
    assert "patients found in more than one subset: 1" in card_of(card_inputs, image_split=image_split)


def test_card_gives_the_epochs_run_and_the_kept_epoch(card_inputs):
    card = card_of(card_inputs)
    assert "Epochs run: 3 of at most 10; early stopping on `val_loss` (patience 4) kept the weights of epoch 2" in card
    assert "validation subset only. The test subset was read once, by the report" in card


def test_card_summarises_the_stress_report_with_the_worst_shift(card_inputs):
    card = card_of(card_inputs)
    assert "| test | roc_auc | 0.938 | 0.881 | 0.712 | gamma severity 3 |" in card
    assert "| test | sensitivity | 0.942 | 0.877 | 0.543 | blur severity 2 |" in card


@pytest.mark.parametrize("stress_metrics", [None, {}])
def test_card_says_when_there_is_no_stress_report(card_inputs, stress_metrics):
    card = card_of(card_inputs, stress_metrics=stress_metrics)
    assert "No stress report was given for this model" in card
    assert "| set | metric |" not in card


def test_card_describes_the_architecture_training_used(card_inputs):
    from_parameters = card_of(card_inputs)
    training = {**card_inputs["params:training"], "architecture_from": "search"}
    from_search = card_of(card_inputs, **{"params:training": training})

    assert "convolution blocks of 32, 64 filters" in from_parameters
    assert "convolution blocks of 64, 128, 256, 256 filters" in from_search
    assert "batch normalisation off" in from_search


def test_card_describes_a_residual_ensemble_with_the_schemas_defaults(card_inputs):
    training = card_inputs["params:training"]
    residual = {**training, "architecture": {**training["architecture"], "family": "residual"}, "ensemble": {"members": 3}}

    card = card_of(card_inputs, **{"params:training": residual})

    assert "a compact residual network (four stages of 32, 64, 128, 256 filters, stochastic depth 0.0)" in card
    assert "feature dropout 0.2" in card and "a seed ensemble of 3 such networks (mean logit)" in card
    assert "convolution blocks" not in card



def test_card_names_the_regularisation_training_used(card_inputs):
    plain = card_of(card_inputs)
    training = card_inputs["params:training"]
    regularised = {
        **training,
        "architecture": {**training["architecture"], "weight_decay": 0.01, "label_smoothing": 0.1},
        "mixup": {"method": "cutmix", "alpha": 1.0},
    }
    card = card_of(card_inputs, **{"params:training": regularised})

    assert "- Optimiser: Adam, learning rate 0.001 (cosine schedule), batch size 132, online augmentation on, seed 42." in plain
    assert "Optimiser: AdamW (weight decay 0.01), learning rate 0.001" in card
    assert "online augmentation on, label smoothing 0.1, cutmix (alpha 1.0), seed 42." in card


def test_a_three_class_card_adds_the_three_class_tables(card_inputs):
    classes = ["NORMAL", "BACTERIA", "VIRUS"]
    three_class = {
        "multiclass_accuracy": 0.7712,
        "multiclass_accuracy_ci_low": 0.7351,
        "multiclass_accuracy_ci_high": 0.8093,
        "multiclass_macro_roc_auc": 0.8904,
        "multiclass_macro_f1": 0.7321,
        "multiclass_weighted_f1": 0.7610,
        "bacteria_vs_virus_roc_auc": 0.7812,
        "patient_multiclass_accuracy": 0.7801,
        "recall_VIRUS": 0.4428,
        "precision_VIRUS": 0.6692,
        "f1_VIRUS": 0.5329,
        "roc_auc_VIRUS": 0.8123,
        "multiclass_confusion_matrix": [[190, 9, 3], [17, 325, 38], [21, 91, 89]],
    }
    decision = {**card_inputs["decision_threshold"], "rule": "argmax", "validation_accuracy": 0.7712, "validation_macro_roc_auc": 0.8904}

    card = card_of(card_inputs, test_metrics={**card_inputs["test_metrics"], **three_class}, decision_threshold=decision, **{"params:raw_data.classes": classes})
    binary = card_of(card_inputs)

    assert "## Test metrics: 3 classes" in card and "## Test metrics: 3 classes" not in binary
    assert "- Accuracy 0.771 (95%: 0.735 to 0.809); per patient 0.780." in card
    assert "BACTERIA vs VIRUS ROC-AUC on their images: 0.781." in card
    assert "| VIRUS | 0.443 | 0.669 | 0.533 | 0.812 |" in card
    assert "| true \\ predicted | NORMAL | BACTERIA | VIRUS |" in card and "| VIRUS | 21 | 91 | 89 |" in card
    assert "validation accuracy 0.771, macro one-vs-rest ROC-AUC 0.890" in card
    assert "most probable class" not in binary
