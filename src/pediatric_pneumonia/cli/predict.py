"""``predict``: NORMAL or PNEUMONIA for image files and folders, as a table, CSV or JSON on stdout."""

import contextlib
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from .options import InputOrModelError, load_model, model_options, why_no_input

PREDICTION_FIELDS = ("source", "label", "probability", "threshold", "error", "ood_score", "ood_warning")
# Table columns shown only when some row has a value (the OOD ones need a package with a shift reference).
OPTIONAL_TABLE_FIELDS = ("error", "ood_score", "ood_warning")
PREDICTION_BATCH = 64


def collect_inputs(paths: Sequence[Path]) -> list[Path]:
    """The files to predict, in the order given, folders expanded; a path that does not exist is
    kept, so that it is reported in its place. Files of any name are kept: the predictor recognises
    images by their content."""
    from ..data_layout import visible_files

    return [file for path in paths for file in (visible_files(path) if path.is_dir() else [path])]


def read_input_file(path: Path) -> bytes:
    """The content of ``path``; OSError with the reason when it cannot be read (a special file such
    as a pipe is refused rather than read, which could block)."""
    if path.exists() and not path.is_file():
        raise OSError("not a regular file")
    return path.read_bytes()


def predict_files(predictor, files: Sequence[Path], progress) -> list:
    """Predictions for ``files`` in order, in batches; a file that cannot be read gets its reason."""
    from ..inference import Prediction

    predictions = []
    for start in range(0, len(files), PREDICTION_BATCH):
        batch = files[start : start + PREDICTION_BATCH]
        # Read here rather than in the predictor, so a file that cannot be opened (missing, no
        # permission) is one failed row instead of an exception for the whole batch.
        contents, unreadable = {}, {}
        for index, path in enumerate(batch):
            try:
                contents[index] = read_input_file(path)
            except OSError as error:
                unreadable[index] = f"'{path}' could not be read: {error.strerror or error}."
        results = iter(
            predictor.predict_batch(
                list(contents.values()), sources=[str(batch[index]) for index in contents], skip_errors=True
            )
        )
        predictions += [
            Prediction(str(path), None, None, predictor.threshold, unreadable[index])
            if index in unreadable
            else next(results)
            for index, path in enumerate(batch)
        ]
        progress.update(len(batch))
    return predictions


def fields_of(rows: list[dict]) -> list[str]:
    """``PREDICTION_FIELDS`` and, for a model of more than two classes, each class's probability."""
    return [*PREDICTION_FIELDS, *dict.fromkeys(field for row in rows for field in row if field not in PREDICTION_FIELDS)]


def format_table(rows: list[dict]) -> str:
    """Aligned columns; the error and out-of-distribution columns only when some row has one."""
    fields = [
        field
        for field in fields_of(rows)
        if field not in OPTIONAL_TABLE_FIELDS or any(row[field] is not None for row in rows)
    ]
    cells = [
        [
            f"{value:.4f}" if isinstance(value := row.get(field), float) else "" if value is None else str(value)
            for field in fields
        ]
        for row in rows
    ]
    widths = [max(len(field), *(len(line[column]) for line in cells)) for column, field in enumerate(fields)]
    lines = [fields, *cells]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def format_csv(rows: list[dict]) -> str:
    """One header line and one line per prediction, every field, empty where there is no value."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields_of(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().rstrip("\n")


def format_json(rows: list[dict]) -> str:
    """The predictions as a JSON list of objects."""
    return json.dumps(rows, indent=2)


FORMATTERS = {"table": format_table, "json": format_json, "csv": format_csv}


@click.command("predict")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="IMAGE_OR_FOLDER...")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(FORMATTERS)),
    default="table",
    show_default=True,
    help="How the predictions are written to stdout.",
)
@model_options
def predict_command(
    inputs: tuple[Path, ...], output_format: str, model: str | None, project_path: Path, verbose: bool
) -> None:
    """Predict NORMAL or PNEUMONIA for X-ray images (JPEG, PNG, BMP, TIFF or DICOM).

    Folders are searched recursively (hidden files skipped); every file is tried, whatever its name.
    Exit code: 0 all files predicted, 1 some could not be read (listed with the reason), 2 no model
    or no input.
    """
    files = collect_inputs(inputs)
    if not any(path.exists() for path in files):
        raise InputOrModelError(
            f"Nothing to predict: {why_no_input(inputs)}. Give image files or folders that hold them."
        )
    # Whatever is printed while the model loads and predicts goes to stderr, so stdout holds the
    # predictions only: Kedro, for one, logs through a console on stdout when it is imported outside
    # the project root (where conf/logging.yml, which logs to stderr, is not found).
    with contextlib.redirect_stdout(sys.stderr):
        predictor = load_model(model, project_path, verbose)
        from tqdm import tqdm

        with tqdm(
            total=len(files), unit="image", file=sys.stderr, disable=not any(path.is_dir() for path in inputs)
        ) as progress:
            predictions = predict_files(predictor, files, progress)
    click.echo(FORMATTERS[output_format]([prediction.as_dict() for prediction in predictions]))
    unlike = sum(prediction.ood_warning is not None for prediction in predictions)
    if unlike:
        click.echo(
            f"{unlike} of {len(predictions)} images look unlike the model's validation images (see ood_warning).",
            err=True,
        )
    failed = sum(prediction.error is not None for prediction in predictions)
    if failed:
        click.echo(f"{failed} of {len(predictions)} files could not be read.", err=True)
        sys.exit(1)
