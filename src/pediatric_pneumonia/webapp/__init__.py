"""A small web app around a ``Predictor``: an upload page, a JSON prediction API with Grad-CAM, docs."""

from .app import AddressInUseError, create_app, run_server

__all__ = ["AddressInUseError", "create_app", "run_server"]
