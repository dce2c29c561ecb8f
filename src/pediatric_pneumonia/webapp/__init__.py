"""A small web app around a ``Predictor``: an upload page, a JSON prediction API with Grad-CAM, docs."""

from .app import AddressInUseError, ServeLimits, create_app, run_server

__all__ = ["AddressInUseError", "ServeLimits", "create_app", "run_server"]
