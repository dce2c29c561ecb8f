"""Per-patient views of image-level predictions."""

import pandas as pd

from ..choices import PATIENT_AGGREGATIONS

# How a patient's image probabilities become one patient probability (reporting.patient_aggregation).

def aggregate_by_patient(predictions: pd.DataFrame, how: str) -> pd.DataFrame:
    """One row per patient: ``patient_id``, ``target`` (1 if any of their images is positive),
    ``probability`` (the ``how`` of their images' probabilities: mean or max) and ``n_images``."""
    if how not in PATIENT_AGGREGATIONS:
        raise ValueError(f"Unknown patient aggregation '{how}'. Use one of {PATIENT_AGGREGATIONS}.")
    return (
        predictions.groupby("patient_id", sort=True)
        .agg(target=("target", "max"), probability=("probability", how), n_images=("target", "size"))
        .reset_index()
    )
