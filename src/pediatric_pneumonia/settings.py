"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

from pediatric_pneumonia.hooks import MlflowArtifactHook, ParameterValidationHook

HOOKS = (ParameterValidationHook(), MlflowArtifactHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment overrides single parameters (conf/demo sets training.epochs only),
    # not whole groups.
    "merge_strategy": {"parameters": "soft"},
}
