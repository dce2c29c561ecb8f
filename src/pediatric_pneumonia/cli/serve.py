"""``serve`` and ``export``: the model as a web app, or as a file for phones and embedded devices."""

from pathlib import Path

import click

from .options import InputOrModelError, load_model, model_options, start_tensorflow


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
    allowed_hosts: tuple[str, ...],
    model: str | None,
    project_path: Path,
    verbose: bool,
) -> None:
    """Serve the model as a web app: upload an X-ray, get the prediction."""
    predictor = load_model(model, project_path, verbose)
    from ..webapp import AddressInUseError, run_server

    try:
        run_server(
            predictor, host=host, port=port, max_upload_bytes=int(max_upload_mb * 2**20), allowed_hosts=allowed_hosts
        )
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
