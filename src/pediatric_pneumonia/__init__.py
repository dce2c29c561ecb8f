"""Pediatric chest X-ray pneumonia classification with Kedro.

``from pediatric_pneumonia import Predictor`` gives the trained-model API; it is imported on first
use, so commands that do not need TensorFlow (``kedro``'s own, ``pediatric-pneumonia --help``)
do not pay for importing it. ``__version__`` is the installed distribution's version
(``pyproject.toml`` states it).
"""

LAZY_EXPORTS = {"Predictor", "Prediction", "ModelLoadError", "load_predictor"}


def __getattr__(name: str):
    if name == "__version__":
        from importlib.metadata import version

        return version("pediatric-pneumonia")
    if name in LAZY_EXPORTS:
        from . import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'pediatric_pneumonia' has no attribute '{name}'")
