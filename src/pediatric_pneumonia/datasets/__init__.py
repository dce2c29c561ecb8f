"""Project-specific Kedro datasets."""

from .keras_models_dataset import KerasModelsDataset
from .npz_dataset import NpzDataset
from .predictor_dataset import PredictorDataset

__all__ = ["KerasModelsDataset", "NpzDataset", "PredictorDataset"]
