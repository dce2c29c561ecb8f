"""The study pipeline: every strategy over several seeds, compared with the reference strategy."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
