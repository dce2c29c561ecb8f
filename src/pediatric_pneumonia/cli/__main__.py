"""Run the command line as ``python -m pediatric_pneumonia.cli``."""

from . import cli

cli()
