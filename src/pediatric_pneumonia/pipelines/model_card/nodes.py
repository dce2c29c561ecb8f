"""The model card: one Markdown page per trained model, every figure read from the run's outputs
(its sections are built in ``evaluation/model_card.py``)."""

import pandas as pd

from ...evaluation.model_card import (
    LIMITATIONS,
    data_section,
    stress_section,
    test_section,
    three_class_section,
    training_section,
    validation_section,
)
from ...models.classifier import choose_architecture
from ...parameters import Ingestion, Preprocessing, Reporting, Training


def write_model_card(
    test_metrics: dict,
    calibration: dict,
    decision_threshold: dict,
    stress_metrics: dict | None,
    training_history: dict[str, list[float]],
    image_split: pd.DataFrame,
    training: Training,
    preprocessing: Preprocessing,
    reporting: Reporting,
    ingestion: Ingestion,
    classes: list[str],
    searched_architecture: dict | None,
    strategy: str,
) -> str:
    """The model card in Markdown: intended use, data, training protocol (with the architecture
    training used: the search's when ``training.architecture_from`` is ``search``), validation and
    test figures, the stress summary and known limitations. ``stress_metrics`` may be None or empty."""
    training = choose_architecture(training, searched_architecture)
    lines = [
        f"# Model card: pediatric pneumonia classifier, `{strategy}` strategy",
        "",
        "## Intended use",
        "",
        f"Research and teaching: a {'binary' if len(classes) == 2 else f'{len(classes)}-class'} classifier of pediatric "
        f"chest X-rays ({' vs '.join(classes)}) "
        "built to compare class-balancing strategies on public data.",
        "",
        "> **Not a diagnostic device.** This model is not cleared or approved for clinical use. It must not "
        "be used to diagnose, treat or triage patients, nor replace a clinician's reading.",
        "",
        *data_section(image_split, classes, ingestion.patient_key),
        *training_section(strategy, training, preprocessing, training_history, classes),
        *validation_section(calibration, decision_threshold),
        *test_section(test_metrics, reporting),
        *three_class_section(test_metrics, classes, reporting),
        *stress_section(stress_metrics),
        "## Known limitations",
        "",
        *(f"- {limitation}" for limitation in LIMITATIONS),
    ]
    return "\n".join(lines) + "\n"
