"""``serve`` and ``export``: the model as a web app, or as a file for phones and embedded devices."""

from pathlib import Path

import click

from .options import InputOrModelError, load_model, model_options, start_tensorflow

# A shorter token can be guessed by trying: secrets.token_urlsafe() gives 43 characters.
MIN_TOKEN_LENGTH = 16
# Where serve reads the token from when --token is not given (it stays out of the process list).
TOKEN_ENVIRONMENT_VARIABLE = "PEDIATRIC_PNEUMONIA_TOKEN"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: all interfaces).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--max-upload-mb",
    default=20.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Largest image upload accepted, in MiB.",
)
@click.option(
    "--max-decoded-mb",
    default=100.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Largest decoded image accepted, in MB (width x height x channels x bytes per sample; 8-bit gray files count "
    "one byte per pixel). Larger ones are answered 413 without decoding.",
)
@click.option(
    "--concurrent",
    default=2,
    show_default=True,
    type=click.IntRange(1),
    help="Images analysed (decoded, predicted, explained) at once.",
)
@click.option(
    "--waiting",
    default=8,
    show_default=True,
    type=click.IntRange(0),
    help="Further requests that may wait for an analysis; beyond them the server answers 503 with Retry-After.",
)
@click.option(
    "--token",
    envvar=TOKEN_ENVIRONMENT_VARIABLE,
    default=None,
    help=f"Require this access token (Authorization: Bearer <token>; the page asks for it). Prefer the environment "
    f"variable {TOKEN_ENVIRONMENT_VARIABLE}, which other users of the machine cannot read in the process list.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="A Host name requests may carry besides 127.0.0.1, localhost and the address served at (repeat for more; "
    "e.g. the name a reverse proxy forwards).",
)
@model_options
def serve_command(
    host: str,
    port: int,
    max_upload_mb: float,
    max_decoded_mb: float,
    concurrent: int,
    waiting: int,
    token: str | None,
    allowed_hosts: tuple[str, ...],
    model: str | None,
    project_path: Path,
    verbose: bool,
) -> None:
    """Serve the model as a web app: upload an X-ray, get the prediction."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise click.BadParameter(
            f"a token needs at least {MIN_TOKEN_LENGTH} characters; make one with: python -c \"import secrets; "
            "print(secrets.token_urlsafe())\"",
            param_hint="--token",
        )
    predictor = load_model(model, project_path, verbose)
    from ..imaging.decode import DecodeLimits
    from ..webapp import AddressInUseError, ServeLimits, run_server

    limits = ServeLimits(
        max_upload_bytes=int(max_upload_mb * 2**20),
        decode=DecodeLimits(max_decoded_bytes=int(max_decoded_mb * 1e6)),
        concurrent=concurrent,
        waiting=waiting,
    )
    try:
        run_server(predictor, host=host, port=port, limits=limits, allowed_hosts=allowed_hosts, token=token)
    except AddressInUseError as error:
        raise click.ClickException(str(error)) from error


@click.command("export")
@click.option(
    "--format", "export_format", type=click.Choice(["tflite"]), required=True, help="The file format to export to."
)
@click.option(
    "--output",
    default=Path("tflite", "classifier.tflite"),
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The model file to write; predictor.json (preprocessing, calibration, threshold) is written beside it.",
)
@model_options
def export_command(export_format: str, output: Path, model: str | None, project_path: Path, verbose: bool) -> None:
    """Export the model for phones and embedded devices (TensorFlow Lite / LiteRT)."""
    start_tensorflow(verbose)  # before the model code below imports it
    from ..inference.loading import PackageLocationError, check_new_package_folder

    try:
        check_new_package_folder(output.parent, project_path)
    except PackageLocationError as error:
        raise InputOrModelError(str(error)) from error
    predictor = load_model(model, project_path, verbose)
    from ..inference.export import ExportError, export_tflite

    try:
        written = export_tflite(predictor, output)
    except ExportError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Wrote the TFLite model to '{written}' and its settings to '{written.parent / 'predictor.json'}'.")
