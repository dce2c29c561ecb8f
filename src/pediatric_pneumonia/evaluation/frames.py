"""How a prediction table (validation, test, a site) holds a model's probabilities: for two classes
one column of the positive class's (``raw_probability``, ``probability``); for K > 2 classes one
column per class, named after it (``raw_probability_NORMAL``, ``raw_probability_BACTERIA``, ...).
The binary question is answered for every model by P(pneumonia): the positive class's probability,
or 1 - P(the first class, NORMAL) for K classes."""

import numpy as np
import pandas as pd


def class_column(prefix: str, class_name: str) -> str:
    """The column of one class's probabilities named ``prefix`` (``probability_VIRUS``), in tables and JSON."""
    return f"{prefix}_{class_name}"


def probability_columns(prefix: str, classes: list[str]) -> list[str]:
    """The columns holding the probabilities named ``prefix`` for a model of ``classes``."""
    return [prefix] if len(classes) == 2 else [class_column(prefix, name) for name in classes]


def table_classes(frame: pd.DataFrame, prefix: str) -> list[str] | None:
    """The classes of a K-class table, in the order of its ``probability_columns`` named ``prefix``;
    None for a two-class table, whose one column names no class."""
    classes = [column.removeprefix(f"{prefix}_") for column in frame.columns if column.startswith(f"{prefix}_")]
    return classes or None


def with_probabilities(frame: pd.DataFrame, prefix: str, probabilities: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """``frame`` with ``probabilities`` ((N,) or (N, K)) in its ``probability_columns``."""
    values = np.asarray(probabilities).reshape(len(frame), -1)
    return frame.assign(**dict(zip(probability_columns(prefix, classes), values.T)))


def probabilities_of(frame: pd.DataFrame, prefix: str, classes: list[str]) -> np.ndarray:
    """The probabilities named ``prefix`` in ``frame``: (N,) for two classes, (N, K) for more."""
    columns = probability_columns(prefix, classes)
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"The prediction table lacks {missing} for the classes {classes}: it was scored by another model.")
    values = frame[columns].to_numpy(dtype=np.float64)
    return values[:, 0] if len(classes) == 2 else values


def pneumonia_probability(probabilities: np.ndarray) -> np.ndarray:
    """P(pneumonia) per image: (N,) probabilities as they are; 1 - the first class's of (N, K)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    return probabilities if probabilities.ndim == 1 else 1.0 - probabilities[:, 0]


def pneumonia_targets(targets: np.ndarray, n_classes: int) -> np.ndarray:
    """0/1 pneumonia labels: the labels of two classes; for K, every class but the first is 1."""
    targets = np.asarray(targets, dtype=int)
    return targets if n_classes == 2 else (targets != 0).astype(int)
