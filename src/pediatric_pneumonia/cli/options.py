"""What the commands share: the project and model options, the one way to read the project's
configuration, loading the model, and the error that exits 2."""

from collections.abc import Sequence
from pathlib import Path

import click

MODEL_HELP = (
    "A predictor package folder, an MLflow model URI (runs:/..., models:/name/version, models:/name@alias), "
    "a strategy name, or builtin (the model that ships with the project); default: the newest model trained in "
    "this project, else the built-in one."
)


class InputOrModelError(click.ClickException):
    """No input, no model or no project configuration: exit code 2, as for a usage error."""

    exit_code = 2


def project_path_option(command):
    """``--project-path``: the project whose configuration (and trained models) a command reads."""
    return click.option(
        "--project-path",
        default=".",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="The project's root folder, the one that holds conf/ (and, for the model commands, the trained models).",
    )(command)


def model_options(command):
    """The options every model command shares: which model, from which project, how talkative."""
    verbose = click.option("--verbose", is_flag=True, help="Show TensorFlow's start-up messages and info logs.")
    return click.option("--model", default=None, help=MODEL_HELP)(project_path_option(verbose(command)))


def project_parameters(project_path: Path, env: str | None) -> dict:
    """The parameters of the project at ``project_path`` for ``env`` (``conf/base`` merged with
    ``conf/<env>``); exit 2 when there is no project configuration there."""
    from ..project_config import load_project_config

    parameters = load_project_config(project_path, "parameters", env)
    if not parameters:
        raise InputOrModelError(
            f"No project configuration in '{project_path / 'conf' / 'base'}': run this command from the project root "
            "(the folder that holds conf/base) or pass --project-path."
        )
    return parameters


def start_tensorflow(verbose: bool) -> None:
    """Start TensorFlow, quietly unless ``verbose``: call it before anything imports the model code."""
    if verbose:
        import logging

        logging.basicConfig(level=logging.INFO)
    else:
        from ..console import quiet_tensorflow

        quiet_tensorflow()


def load_model(model: str | None, project_path: Path, verbose: bool):
    """Start TensorFlow (quietly unless ``verbose``) and load the predictor; exit 2 if that fails."""
    start_tensorflow(verbose)
    from ..inference import ModelLoadError, load_predictor

    try:
        predictor = load_predictor(model, project_path)
    except ModelLoadError as error:
        raise InputOrModelError(str(error)) from error
    click.echo(f"Model: {predictor.name}", err=True)
    for caveat in predictor.caveats:
        click.echo(f"Caution, from the model's recalibration: {caveat}.", err=True)
    return predictor


def why_no_input(inputs: Sequence[Path]) -> str:
    """Which of ``inputs`` do not exist, which are files where a folder was wanted, and which are
    folders without files."""
    missing = [f"'{path}'" for path in inputs if not path.exists()]
    files = [f"'{path}'" for path in inputs if path.is_file()]
    empty = [f"'{path}'" for path in inputs if path.is_dir()]
    problems = [
        f"{', '.join(paths)} {singular if len(paths) == 1 else plural}"
        for paths, singular, plural in (
            (missing, "does not exist", "do not exist"),
            (files, "is a file, not a folder", "are files, not folders"),
            (empty, "holds no files", "hold no files"),
        )
        if paths
    ]
    return "; ".join(problems)
