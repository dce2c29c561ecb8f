"""``pediatric-pneumonia``: get the data the pipelines read, and use a trained model.

``demo-data`` and ``download`` (``data``) fill ``raw_data.root``; ``predict`` (``predict``),
``check-shift``, ``evaluate`` and ``recalibrate`` (``site``), ``serve`` and ``export`` (``serve``)
load a trained model (see ``inference.load_predictor``). Every command that reads the project's
configuration finds it the same way: ``--project-path`` (``options.project_parameters``).

Everything heavier than click is imported inside the commands: ``--help`` stays fast, and the model
commands can silence TensorFlow's start-up notices before anything imports it (the project
settings do, through the hooks). Stdout carries only a command's result; messages and logs go to
stderr.
"""

import click

from .data import demo_data_command, download_command
from .predict import predict_command
from .serve import export_command, serve_command
from .site import check_shift_command, evaluate_command, recalibrate_command


@click.group()
@click.version_option(package_name="pediatric-pneumonia", prog_name="pediatric-pneumonia")
def cli() -> None:
    """Data and model commands of the pediatric-pneumonia project."""


for command in (
    demo_data_command,
    download_command,
    predict_command,
    check_shift_command,
    evaluate_command,
    recalibrate_command,
    serve_command,
    export_command,
):
    cli.add_command(command)
