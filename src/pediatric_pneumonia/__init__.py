"""Pediatric chest X-ray pneumonia classification with Kedro."""

__version__ = "0.1.0"
