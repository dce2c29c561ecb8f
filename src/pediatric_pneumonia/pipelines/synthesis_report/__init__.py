"""The synthesis report: quality, diversity and memorization of the synthetic images."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
