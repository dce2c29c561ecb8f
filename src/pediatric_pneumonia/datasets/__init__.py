"""Project-specific Kedro datasets."""

from .npz_dataset import NpzDataset
from .predictor_dataset import PredictorDataset

__all__ = ["NpzDataset", "PredictorDataset"]
