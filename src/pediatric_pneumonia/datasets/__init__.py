"""Project-specific Kedro datasets."""

from .npz_dataset import NpzDataset

__all__ = ["NpzDataset"]
