"""Inputs of the model card: the outputs of one small run, with figures easy to find in the text."""

import pandas as pd
import pytest

CLASSES = ["NORMAL", "PNEUMONIA"]


@pytest.fixture
def card_inputs() -> dict:
    """The model card node's inputs by dataset name, as the pipeline reads them."""
    image_split = pd.DataFrame(
        {
            "path": [f"image{index}.jpeg" for index in range(9)],
            "subset": ["train"] * 4 + ["validation"] * 2 + ["test"] * 3,
            "label": ["NORMAL", "PNEUMONIA", "PNEUMONIA", "PNEUMONIA", "NORMAL", "PNEUMONIA"]
            + ["NORMAL", "PNEUMONIA", "PNEUMONIA"],
            "patient_id": ["IM-1", "person1_virus", "person1_virus", "person2_bacteria", "IM-2", "person3_virus"]
            + ["IM-3", "person4_bacteria", "person5_virus"],
        }
    )
    test_metrics = {
        "accuracy": 0.8712,
        "sensitivity": 0.9421,
        "specificity": 0.7534,
        "precision": 0.8645,
        "f1": 0.9016,
        "roc_auc": 0.9378,
        "pr_auc": 0.9512,
        "accuracy_ci_low": 0.8411,
        "accuracy_ci_high": 0.8987,
        "sensitivity_ci_low": 0.9123,
        "sensitivity_ci_high": 0.9655,
        "specificity_ci_low": 0.7012,
        "specificity_ci_high": 0.8033,
        "roc_auc_ci_low": 0.9144,
        "roc_auc_ci_high": 0.9581,
        "accuracy_at_0.5": 0.8266,
        "sensitivity_at_0.5": 0.9872,
        "specificity_at_0.5": 0.5598,
        "patient_accuracy": 0.8833,
        "patient_sensitivity": 0.9561,
        "accuracy_without_duplicates": 0.8699,
        "threshold": 0.6234,
        "threshold_method": "youden",
        "n_images": 624,
        "n_patients": 411,
        "class_counts": {"NORMAL": 234, "PNEUMONIA": 390},
        "n_test_duplicates_of_train": 3,
        "n_test_duplicates_within_test": 2,
        "test_ece_before": 0.0812,
        "test_ece_after": 0.0456,
        "n_images_bacteria": 242,
        "sensitivity_bacteria": 0.9669,
        "n_images_virus": 148,
        "sensitivity_virus": 0.9054,
    }
    return {
        "test_metrics": test_metrics,
        "calibration": {
            "method": "temperature",
            "temperature": 1.8765,
            "bins": 15,
            "validation_ece_before": 0.1123,
            "validation_ece_after": 0.0345,
            "validation_nll_before": 0.4567,
            "validation_nll_after": 0.3012,
            "validation_brier_before": 0.1234,
            "validation_brier_after": 0.0987,
        },
        "decision_threshold": {
            "method": "youden",
            "threshold": 0.6234,
            "validation_sensitivity": 0.9345,
            "validation_specificity": 0.8812,
            "validation_roc_auc": 0.9712,
        },
        "stress_metrics": {
            "test.roc_auc_clean": 0.9378,
            "test.roc_auc_mean": 0.8811,
            "test.roc_auc_worst": 0.7123,
            "test.roc_auc_worst_shift": "gamma severity 3",
            "test.sensitivity_clean": 0.9421,
            "test.sensitivity_mean": 0.8766,
            "test.sensitivity_worst": 0.5432,
            "test.sensitivity_worst_shift": "blur severity 2",
            "test.gamma.3.roc_auc": 0.7123,
        },
        "training_history": {"loss": [0.7, 0.5, 0.4], "val_loss": [0.6, 0.45, 0.5], "accuracy": [0.6, 0.7, 0.8]},
        "image_split": image_split,
        "params:training": {
            "seed": 42,
            "epochs": 10,
            "batch_size": 132,
            "learning_rate_schedule": "cosine",
            "early_stopping": {"monitor": "val_loss", "patience": 4},
            "architecture": {
                "conv_filters": [32, 64],
                "kernel_size": 3,
                "pool_size": 2,
                "batch_norm": True,
                "batch_norm_momentum": 0.9,
                "dense_units": [],
                "dropout_rates": [],
                "learning_rate": 0.001,
            },
        },
        "params:preprocessing": {"image_size": 148, "intensity": {"method": "histogram_equalisation"}},
        "params:reporting": {"confidence_level": 0.95, "bootstrap_resamples": 1000, "bootstrap_seed": 0, "patient_aggregation": "max"},
        "params:ingestion": {"workers": 2, "patient_key": "person_and_subtype"},
        "params:raw_data.classes": CLASSES,
        # A search result that training.architecture_from: parameters (the default) ignores.
        "searched_architecture": {
            "architecture": {
                "conv_filters": [64, 128, 256, 256],
                "kernel_size": 3,
                "pool_size": 2,
                "batch_norm": False,
                "batch_norm_momentum": 0.9,
                "dense_units": [512],
                "dropout_rates": [0.5],
                "learning_rate": 0.001,
            },
            "selection": {"trial": "trial_0007", "metric": "val_auc", "value": 0.97},
        },
    }
