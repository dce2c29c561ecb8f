"""Explanations of the classifier's predictions, shared by the explain pipeline, the web app and the CLI."""

from .gradcam import (
    border_mass_share,
    grad_cam,
    overlay_heatmap,
    randomised_copy,
    rank_correlation,
)

__all__ = [
    "border_mass_share",
    "grad_cam",
    "overlay_heatmap",
    "randomised_copy",
    "rank_correlation",
]
