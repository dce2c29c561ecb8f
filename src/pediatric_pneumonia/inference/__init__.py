"""Use a trained model: load it, predict new X-rays, serve it through MLflow."""

from .package import ModelLoadError
from .predictor import Explanation, Prediction, Predictor, load_predictor

__all__ = ["Explanation", "ModelLoadError", "Prediction", "Predictor", "load_predictor"]
