"""The synthesis pipeline: a DCGAN trained on training images of the minority class."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
