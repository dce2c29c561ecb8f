"""The project's configuration as Kedro itself reads it (``conf/base`` merged with the run
environment, ``conf/local`` by default or ``KEDRO_ENV``), for code that runs outside a Kedro
session: the CLI, ``Predictor.load`` and the notebooks."""

import os
import warnings
from pathlib import Path

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment overrides single parameters (conf/demo sets training.epochs only),
    # not whole groups.
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
}
# kedro-mlflow's settings file; Kedro's loader knows only catalog, parameters, credentials and logging.
CONFIG_PATTERNS = {"mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"]}
# The package holds the project's conf/base (a link in the source tree, copies in the wheel): the
# default settings of the commands that need no project, such as evaluating a package folder.
PACKAGED_PROJECT = Path(__file__).parent
# The start of the UserWarning Kedro's loader triggers in OmegaConf on every load (Kedro 1.x).
OMEGACONF_RESOLVER_DEPRECATION = r"register_new_resolver\(\) is deprecated"


def load_project_config(project_path: str | Path, key: str, env: str | None = None) -> dict:
    """The ``key`` configuration (``catalog``, ``parameters``, ``mlflow``, ...) of the project at
    ``project_path`` for ``env`` (default: ``KEDRO_ENV``, else Kedro's default run environment);
    empty when the project has none."""
    # Imported here: the logged MLflow model carries this package's code but not Kedro.
    from kedro.config import MissingConfigException, OmegaConfigLoader

    conf_source = Path(project_path) / "conf"
    if not (conf_source / CONFIG_LOADER_ARGS["base_env"]).is_dir():
        return {}
    with warnings.catch_warnings():
        # Kedro's loader calls OmegaConf's deprecated register_new_resolver: nothing a user can act on.
        warnings.filterwarnings("ignore", message=OMEGACONF_RESOLVER_DEPRECATION, category=UserWarning)
        loader = OmegaConfigLoader(
            conf_source=str(conf_source),
            env=env or os.environ.get("KEDRO_ENV"),
            config_patterns=CONFIG_PATTERNS,
            **CONFIG_LOADER_ARGS,
        )
        try:
            return dict(loader[key])
        except MissingConfigException:
            return {}
