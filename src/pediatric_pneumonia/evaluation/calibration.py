"""Calibration of the classifier's probabilities, fitted on validation only."""

import numpy as np


def apply_calibration(probabilities: np.ndarray, calibration: dict) -> np.ndarray:
    """Calibrated probabilities: the logit divided by ``calibration["temperature"]`` (1 = unchanged)."""
    temperature = calibration["temperature"]
    if temperature == 1.0:
        return probabilities
    clipped = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    logits = np.log(clipped) - np.log1p(-clipped)
    return 1.0 / (1.0 + np.exp(-logits / temperature))
