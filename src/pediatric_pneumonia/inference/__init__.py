"""Use a trained model: load it, predict new X-rays, serve it through MLflow."""

from .package import ModelLoadError, NoShiftReferenceError
from .predictor import Explanation, Prediction, Predictor, load_predictor

__all__ = ["Explanation", "ModelLoadError", "NoShiftReferenceError", "Prediction", "Predictor", "load_predictor"]
