"""Hyperparameter search over the paper's grid."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
