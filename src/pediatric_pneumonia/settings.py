"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

from pediatric_pneumonia import project_config
from pediatric_pneumonia.hooks import MlflowArtifactHook, ParameterValidationHook

HOOKS = (ParameterValidationHook(), MlflowArtifactHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = project_config.CONFIG_LOADER_ARGS
