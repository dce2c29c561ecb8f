"""The hyperparameter search over the paper's grid: the space, one trial, and the sequential and
Ray Tune backends that run the trials."""

from .backends import search_ray, search_sequential
from .dataset import SearchedArchitectureDataset
from .space import expand_space, pair_heads, resolve_backend
from .trial import TrialTracking, run_trial, tracking_from_active_run, trial_settings

__all__ = [
    "SearchedArchitectureDataset",
    "TrialTracking",
    "expand_space",
    "pair_heads",
    "resolve_backend",
    "run_trial",
    "search_ray",
    "search_sequential",
    "tracking_from_active_run",
    "trial_settings",
]
