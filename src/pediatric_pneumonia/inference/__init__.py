"""Use a trained model: load it, predict new X-rays, serve it through MLflow."""

from .loading import load_predictor
from .predictor import ModelLoadError, Prediction, Predictor

__all__ = ["ModelLoadError", "Prediction", "Predictor", "load_predictor"]
