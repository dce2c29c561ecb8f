"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

from pediatric_pneumonia import project_config
from pediatric_pneumonia.hooks import MlflowArtifactHook, ParameterValidationHook, TypedParametersMlflowHook

# kedro-mlflow's hook is registered here, as a subclass that logs typed parameter groups like raw ones;
# last, so that (hooks run last-registered first) it opens its run before the others need it, as the
# plugin's own registration did.
HOOKS = (ParameterValidationHook(), MlflowArtifactHook(), TypedParametersMlflowHook())
# The distribution name as kedro-mlflow 2 publishes it (an underscore), which Kedro compares as is.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow", "kedro-mlflow")

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = project_config.CONFIG_LOADER_ARGS
