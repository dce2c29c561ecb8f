"""``pediatric-pneumonia``: get the data the pipelines read, and use a trained model.

``demo-data`` and ``download`` write to ``raw_data.root`` of the chosen Kedro environment, so the
place where the data lives is configured once, in ``conf/<env>/parameters.yml``. ``predict``,
``check-shift``, ``serve``, ``export``, ``evaluate`` and ``recalibrate`` load a trained model (see
``inference.load_predictor``).

Everything heavier than click is imported inside the commands: ``--help`` stays fast, and the model
commands can silence TensorFlow's start-up notices before anything imports it (the project
settings do, through the hooks). Stdout carries only a command's result; messages and logs go to
stderr.
"""

import contextlib
import csv
import io
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import click

KAGGLE_DATASET = "paultimothymooney/chest-xray-pneumonia"
KAGGLE_PAGE = f"https://www.kaggle.com/datasets/{KAGGLE_DATASET}"
# What the public archive holds, images per split.
EXPECTED_IMAGES = {"train": 5216, "val": 16, "test": 624}
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}


def load_parameters(env: str) -> dict:
    """The project's parameters for ``env``, read from ``conf/`` in the current folder."""
    if not Path("conf", "base").is_dir():
        raise click.ClickException(
            "Run this command from the project root (the folder that holds conf/base)."
        )
    from .project_config import load_project_config

    return load_project_config(".", "parameters", env)


def count_images(layout_root: Path, splits: list[str]) -> dict[str, int]:
    """Image files (by suffix, hidden files excluded) per split folder, all classes together."""
    return {
        split: sum(
            1
            for path in (layout_root / split).rglob("*")
            if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
        )
        for split in splits
    }


@click.group()
@click.version_option(package_name="pediatric-pneumonia", prog_name="pediatric-pneumonia")
def cli() -> None:
    """Data and model commands of the pediatric-pneumonia project."""


@cli.command("demo-data")
@click.option("--env", default="demo", show_default=True, help="Kedro environment whose raw_data.root and demo_data to use.")
@click.option("--force", is_flag=True, help="Regenerate even if the folder already exists.")
def demo_data_command(env: str, force: bool) -> None:
    """Generate the synthetic demo dataset (deterministic) into raw_data.root."""
    from .demo_data import generate_demo_dataset

    parameters = load_parameters(env)
    if "demo_data" not in parameters:
        raise click.ClickException(f"conf/{env} has no demo_data parameters; use --env demo.")
    root = Path(parameters["raw_data"]["root"])
    if root.exists() and not force:
        click.echo(f"Demo data already in '{root}' (use --force to regenerate).")
        return
    if root.exists():
        shutil.rmtree(root)
    written = generate_demo_dataset(root, parameters["demo_data"], parameters["raw_data"]["classes"])
    click.echo(f"Wrote synthetic demo images to '{root}': {written}.")


@cli.command("download")
@click.option("--env", default="base", show_default=True, help="Kedro environment whose raw_data.root to fill.")
def download_command(env: str) -> None:
    """Download the Kermany et al. dataset from Kaggle, check it, and link it at raw_data.root."""
    import kagglehub

    raw_data = load_parameters(env)["raw_data"]
    root = Path(raw_data["root"])
    if root.exists():
        raise click.ClickException(f"'{root}' already exists: remove it first to download again.")
    try:
        downloaded = Path(kagglehub.dataset_download(KAGGLE_DATASET))
    except Exception as error:  # noqa: BLE001 - any failure here means the same thing to the user
        raise click.ClickException(
            f"Could not download '{KAGGLE_DATASET}' from Kaggle ({type(error).__name__}: {error}).\n"
            "Check the network connection and your Kaggle credentials (KAGGLE_USERNAME and "
            "KAGGLE_KEY, or ~/.kaggle/kaggle.json; see the kagglehub documentation). "
            f"Or download the archive by hand from {KAGGLE_PAGE}, unzip it and run "
            "`kedro run --params raw_data.root=/path/to/chest_xray`."
        ) from error
    found = link_checked_dataset(downloaded, root, raw_data, EXPECTED_IMAGES)
    click.echo(f"Checked {sum(found.values())} images {found}; linked '{root}' -> '{downloaded}'.")


def link_checked_dataset(downloaded: Path, root: Path, raw_data: dict, expected: dict[str, int]) -> dict[str, int]:
    """Check that ``downloaded`` holds the expected images per split, then link ``root`` to it.

    The dataset may sit one folder down (the archive's ``chest_xray/``); ``__MACOSX`` is ignored.
    Returns the images found per split.
    """
    from .data_layout import RawDataLayoutError, locate_layout_root

    try:
        layout_root = locate_layout_root(downloaded, raw_data["splits"], raw_data["classes"])
    except RawDataLayoutError as error:
        raise click.ClickException(f"The download in '{downloaded}' is incomplete: {error}") from error
    found = count_images(layout_root, raw_data["splits"])
    if found != expected:
        raise click.ClickException(
            f"The download in '{layout_root}' holds {found} images per split, expected "
            f"{expected}. Delete '{downloaded}' and download again."
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    root.symlink_to(layout_root.resolve(), target_is_directory=True)
    return found


MODEL_HELP = (
    "A predictor package folder, an MLflow model URI (runs:/..., models:/name/version, models:/name@alias) "
    "or a strategy name; default: the newest model trained in this project."
)
PREDICTION_FIELDS = ("source", "label", "probability", "threshold", "error", "ood_score", "ood_warning")
# Table columns shown only when some row has a value (the OOD ones need a package with a shift reference).
OPTIONAL_TABLE_FIELDS = ("error", "ood_score", "ood_warning")
PREDICTION_BATCH = 64


class InputOrModelError(click.ClickException):
    """No input to predict, or no model to predict with: exit code 2, as for a usage error."""

    exit_code = 2


def model_options(command):
    """The options every model command shares: which model, from which project, how talkative."""
    command = click.option("--verbose", is_flag=True, help="Show TensorFlow's start-up messages and info logs.")(command)
    command = click.option(
        "--project-path",
        default=".",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="The project whose trained models and MLflow store are searched.",
    )(command)
    return click.option("--model", default=None, help=MODEL_HELP)(command)


def load_model(model: str | None, project_path: Path, verbose: bool):
    """Start TensorFlow (quietly unless ``verbose``) and load the predictor; exit 2 if that fails."""
    if verbose:
        import logging

        logging.basicConfig(level=logging.INFO)
    else:
        from .console import quiet_tensorflow

        quiet_tensorflow()
    from .inference import ModelLoadError, load_predictor

    try:
        predictor = load_predictor(model, project_path)
    except ModelLoadError as error:
        raise InputOrModelError(str(error)) from error
    click.echo(f"Model: {predictor.name}", err=True)
    return predictor


def collect_inputs(paths: Sequence[Path]) -> list[Path]:
    """The files to predict, in the order given, folders expanded; a path that does not exist is
    kept, so that it is reported in its place. Files of any name are kept: the predictor recognises
    images by their content."""
    from .data_layout import visible_files

    return [file for path in paths for file in (visible_files(path) if path.is_dir() else [path])]


def why_no_input(inputs: Sequence[Path]) -> str:
    """Which of ``inputs`` do not exist and which are folders without files."""
    missing = [f"'{path}'" for path in inputs if not path.exists()]
    empty = [f"'{path}'" for path in inputs if path.exists()]
    problems = [
        f"{', '.join(paths)} {singular if len(paths) == 1 else plural}"
        for paths, singular, plural in ((missing, "does not exist", "do not exist"), (empty, "holds no files", "hold no files"))
        if paths
    ]
    return "; ".join(problems)


def read_input_file(path: Path) -> bytes:
    """The content of ``path``; OSError with the reason when it cannot be read (a special file such
    as a pipe is refused rather than read, which could block)."""
    if path.exists() and not path.is_file():
        raise OSError("not a regular file")
    return path.read_bytes()


def predict_files(predictor, files: Sequence[Path], progress) -> list:
    """Predictions for ``files`` in order, in batches; a file that cannot be read gets its reason."""
    from .inference import Prediction

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
            Prediction(str(path), None, None, predictor.threshold, unreadable[index]) if index in unreadable else next(results)
            for index, path in enumerate(batch)
        ]
        progress.update(len(batch))
    return predictions


def format_table(rows: list[dict]) -> str:
    """Aligned columns; the error and out-of-distribution columns only when some row has one."""
    fields = [
        field
        for field in PREDICTION_FIELDS
        if field not in OPTIONAL_TABLE_FIELDS or any(row[field] is not None for row in rows)
    ]
    cells = [
        [
            f"{row[field]:.4f}" if isinstance(row[field], float) else "" if row[field] is None else str(row[field])
            for field in fields
        ]
        for row in rows
    ]
    widths = [max(len(field), *(len(line[column]) for line in cells)) for column, field in enumerate(fields)]
    lines = [fields, *cells]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def format_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PREDICTION_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().rstrip("\n")


FORMATTERS = {"table": format_table, "json": lambda rows: json.dumps(rows, indent=2), "csv": format_csv}


@cli.command("predict")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="IMAGE_OR_FOLDER...")
@click.option(
    "--format", "output_format", type=click.Choice(sorted(FORMATTERS)), default="table", show_default=True,
    help="How the predictions are written to stdout.",
)
@model_options
def predict_command(inputs: tuple[Path, ...], output_format: str, model: str | None, project_path: Path, verbose: bool) -> None:
    """Predict NORMAL or PNEUMONIA for X-ray images (JPEG, PNG, BMP, TIFF or DICOM).

    Folders are searched recursively (hidden files skipped); every file is tried, whatever its name.
    Exit code: 0 all files predicted, 1 some could not be read (listed with the reason), 2 no model
    or no input.
    """
    files = collect_inputs(inputs)
    if not any(path.exists() for path in files):
        raise InputOrModelError(f"Nothing to predict: {why_no_input(inputs)}. Give image files or folders that hold them.")
    # Whatever is printed while the model loads and predicts goes to stderr, so stdout holds the
    # predictions only: Kedro, for one, logs through a console on stdout when it is imported outside
    # the project root (where conf/logging.yml, which logs to stderr, is not found).
    with contextlib.redirect_stdout(sys.stderr):
        predictor = load_model(model, project_path, verbose)
        from tqdm import tqdm

        with tqdm(total=len(files), unit="image", file=sys.stderr, disable=not any(path.is_dir() for path in inputs)) as progress:
            predictions = predict_files(predictor, files, progress)
    click.echo(FORMATTERS[output_format]([prediction.as_dict() for prediction in predictions]))
    unlike = sum(prediction.ood_warning is not None for prediction in predictions)
    if unlike:
        click.echo(f"{unlike} of {len(predictions)} images look unlike the model's validation images (see ood_warning).", err=True)
    failed = sum(prediction.error is not None for prediction in predictions)
    if failed:
        click.echo(f"{failed} of {len(predictions)} files could not be read.", err=True)
        sys.exit(1)


def stored_images_of(predictor, files: Sequence[Path]) -> tuple[list[str], list, dict[str, str]]:
    """The readable files' sources and stored images (as the model sees them), and the reason for
    each file that could not be read or decoded."""
    from .imaging.decode import ImageDecodeError

    sources, images, unreadable = [], [], {}
    for path in files:
        try:
            images.append(predictor.stored_image(read_input_file(path), str(path)))
            sources.append(str(path))
        except OSError as error:
            unreadable[str(path)] = f"'{path}' could not be read: {error.strerror or error}."
        except ImageDecodeError as error:
            unreadable[str(path)] = str(error)
    return sources, images, unreadable


@cli.command("check-shift")
@click.argument("data", type=click.Path(path_type=Path), metavar="FOLDER")
@click.option(
    "--output", default=Path("shift_check"), show_default=True, type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write shift_report.json into (the tests, the per-image scores, unreadable files).",
)
@click.option("--permutations", type=click.IntRange(99), default=None, help="Permutations of the MMD test (default: the package's).")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None, help="Significance level (default: the package's).")
@model_options
def check_shift_command(
    data: Path, output: Path, permutations: int | None, alpha: float | None, model: str | None, project_path: Path, verbose: bool
) -> None:
    """Check unlabelled X-rays for dataset shift against the model's validation images.

    FOLDER holds the images (the NORMAL/PNEUMONIA layout or flat; labels are not read; searched
    recursively, hidden files skipped). Prints the findings and writes shift_report.json under
    --output. Exit code: 0 done, 1 done but some files could not be read (listed), 2 no model, no
    shift reference in it, or fewer than 2 readable images.
    """
    from .data_layout import visible_files

    files = visible_files(data) if data.is_dir() else []
    if not files:
        raise InputOrModelError(f"Nothing to check: {why_no_input([data])}. Give a folder of images.")
    with contextlib.redirect_stdout(sys.stderr):
        predictor = load_model(model, project_path, verbose)
        from .evaluation.shift import summary_lines
        from .inference import NoShiftReferenceError

        if predictor.shift_reference is None:
            raise InputOrModelError(str(NoShiftReferenceError(predictor.name, predictor.config.get("format_version"))))
        sources, images, unreadable = stored_images_of(predictor, files)
        for reason in unreadable.values():
            click.echo(reason, err=True)
        if len(images) < 2:
            raise InputOrModelError(
                f"'{data}' holds {len(images)} readable image(s) of {len(files)} files: a shift check needs at least 2."
            )
        import numpy as np

        overrides = {key: value for key, value in (("permutations", permutations), ("alpha", alpha)) if value is not None}
        report = predictor.check_shift(np.stack(images), **overrides)
    scores = report.pop("image_scores")
    report = {
        "model": predictor.name,
        "data": str(data),
        **report,
        "per_image": [
            {"source": source, "ood_score": score, "ood_warning": predictor.ood_warning(score)} for source, score in zip(sources, scores)
        ],
        "unreadable": [{"source": source, "error": reason} for source, reason in unreadable.items()],
    }
    output.mkdir(parents=True, exist_ok=True)
    (output / "shift_report.json").write_text(json.dumps(report, indent=2))
    click.echo(f"Shift check of {len(images)} images in '{data}' with {predictor.name}:")
    click.echo("\n".join(f"  {line}" for line in summary_lines(report)))
    click.echo(f"Wrote {output / 'shift_report.json'}.", err=True)
    if unreadable:
        click.echo(f"{len(unreadable)} of {len(files)} files could not be read (listed above and in the report).", err=True)
        sys.exit(1)


def site_parameters(project_path: Path, env: str | None, groups: Sequence[str], overrides: dict | None = None) -> dict:
    """The parameter groups ``groups`` of the project at ``project_path``, checked against their schema
    (``overrides`` merged into a group first), before any model is loaded; exit 2 when unusable."""
    from .parameters import ParameterError, check_parameters
    from .project_config import load_project_config

    parameters = load_project_config(project_path, "parameters", env)
    if not parameters:
        raise InputOrModelError(
            f"No project configuration in '{project_path / 'conf' / 'base'}': run this command from the project root "
            "or pass --project-path (it reads the reporting, calibration, threshold and site parameters there)."
        )
    checked = {}
    for group in groups:
        values = {**parameters.get(group, {}), **(overrides or {}).get(group, {})}
        try:
            checked[group] = check_parameters(group, values).model_dump()
        except ParameterError as error:
            raise InputOrModelError(str(error)) from error
    return checked


def scored_site(predictor, data: Path):
    """The labelled images of ``data`` scored by ``predictor``; exit 2 when ``data`` is not a labelled set."""
    from .data_layout import LabelledDataError, labelled_files
    from .evaluation.site import score_site

    try:
        labelled = labelled_files(data, predictor.classes)
    except LabelledDataError as error:
        raise InputOrModelError(str(error)) from error
    scored = score_site(predictor, labelled)
    if scored.predictions.empty:
        raise InputOrModelError(
            f"None of the {len(scored.unreadable)} files in '{data}' could be read as an image "
            f"(e.g. {next(iter(scored.unreadable.values()))}). Give X-ray files (JPEG, PNG, BMP, TIFF or DICOM)."
        )
    for problem in scored.problems + [f"{path}: {why}" for path, why in scored.unreadable.items()]:
        click.echo(f"Left out: {problem}", err=True)
    return scored


@cli.command("evaluate")
@click.argument("data", type=click.Path(path_type=Path), metavar="FOLDER_OR_CSV")
@click.option(
    "--output", default=Path("evaluation"), show_default=True, type=click.Path(file_okay=False, path_type=Path),
    help="Folder for report.json, report.md, predictions.csv and the PNG figures.",
)
@click.option("--mlflow", "log_to_mlflow", is_flag=True, help="Log the report as an MLflow run naming the model it evaluated.")
@click.option("--env", default=None, help="Kedro environment whose parameters (reporting, calibration) to read.")
@model_options
def evaluate_command(
    data: Path, output: Path, log_to_mlflow: bool, env: str | None, model: str | None, project_path: Path, verbose: bool
) -> None:
    """Evaluate the model on labelled images of another site: a folder with NORMAL/ and PNEUMONIA/
    subfolders, or a CSV of path,label[,patient].

    Writes the test report's figures (metrics at the model's threshold and at 0.5 with patient
    bootstrap intervals, calibration, ROC, confusion matrices) under --output and prints report.md.
    Exit code: 0 every image evaluated, 1 some left out or unreadable (listed), 2 no model or no data.
    """
    settings = site_parameters(project_path, env, ("reporting", "calibration"))
    with contextlib.redirect_stdout(sys.stderr):
        predictor = load_model(model, project_path, verbose)
        from .evaluation.site import SUMMARY_FILE, site_report, write_site_report

        scored = scored_site(predictor, data)
        evaluation = site_report(predictor, scored, settings["reporting"], settings["calibration"]["bins"])
        written = write_site_report(evaluation, output)
        click.echo(f"Wrote {', '.join(path.name for path in written)} to '{output}'.", err=True)
        if log_to_mlflow:
            from .inference.mlflow_model import log_evaluation_run, use_project_tracking

            uri, experiment_id = use_project_tracking(project_path, env)
            run_id = log_evaluation_run(evaluation.report, written, model or predictor.name, f"evaluate {data.name}", experiment_id)
            click.echo(f"Logged the evaluation as MLflow run {run_id} ({uri}).", err=True)
    click.echo((output / SUMMARY_FILE).read_text().rstrip("\n"))
    if scored.problems or scored.unreadable:
        sys.exit(1)


@cli.command("recalibrate")
@click.argument("data", type=click.Path(path_type=Path), metavar="FOLDER_OR_CSV")
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the NEW predictor package.")
@click.option("--method", default=None, help="Threshold method: youden, sensitivity_target or fixed (default: threshold.method).")
@click.option("--register", is_flag=True, help="Register the new package as a new version of the base's registered model.")
@click.option("--site", "site_name", default=None, help="The site's name (required with --register; recorded in the provenance).")
@click.option("--adapt-batchnorm", is_flag=True, help="Re-estimate BatchNormalization statistics on the site's images first (AdaBN).")
@click.option("--env", default=None, help="Kedro environment whose parameters (calibration, threshold, reporting, site) to read.")
@model_options
def recalibrate_command(
    data: Path, output: Path, method: str | None, register: bool, site_name: str | None, adapt_batchnorm: bool,
    env: str | None, model: str | None, project_path: Path, verbose: bool,
) -> None:
    """Refit the temperature and the decision threshold on labelled images of another site and write
    them, with their provenance, as a new predictor package (the base model is not changed)."""
    if register and not site_name:
        raise click.UsageError("--register needs --site NAME: the new version is tagged with the site.")
    overrides = {"threshold": {"method": method}} if method else None
    settings = site_parameters(project_path, env, ("calibration", "threshold", "reporting", "site"), overrides)
    from .inference.package import CONFIG_FILE, MODEL_FILE

    if (output / CONFIG_FILE).exists() or (output / MODEL_FILE).exists():
        raise InputOrModelError(f"'{output}' already holds a predictor package: it is not overwritten. Give another --output folder.")
    with contextlib.redirect_stdout(sys.stderr):
        predictor = load_model(model, project_path, verbose)
        from .inference.mlflow_model import model_reference
        from .inference.recalibration import RecalibrationError, recalibrated_predictor, save_new_package

        scored = scored_site(predictor, data)
        base = {**model_reference(model or predictor.name), "path": predictor.name}
        try:
            recalibrated = recalibrated_predictor(predictor, scored, settings, base, site_name, adapt_batchnorm)
        except RecalibrationError as error:
            raise click.ClickException(str(error)) from error
        save_new_package(recalibrated, output)
        if register:
            from .inference.mlflow_model import register_recalibrated, use_project_tracking

            use_project_tracking(project_path, env)
            try:
                name, version = register_recalibrated(recalibrated, model or "", site_name)
            except ValueError as error:
                raise click.ClickException(f"The package was written to '{output}', but not registered: {error}") from error
            click.echo(f"Registered as {name} version {version}, tagged site={site_name}.", err=True)
    point = recalibrated.config["provenance"]["operating_point"]
    click.echo(
        f"Wrote the recalibrated package to '{output}': temperature {predictor.config['calibration']['temperature']:.3f} -> "
        f"{recalibrated.config['calibration']['temperature']:.3f}, threshold {predictor.threshold:.3f} -> {recalibrated.threshold:.3f} "
        f"({recalibrated.config['decision']['method']}); on the site's {len(scored.predictions)} images sensitivity "
        f"{point['sensitivity']:.3f} ({point['sensitivity_ci_low']:.3f}-{point['sensitivity_ci_high']:.3f}), specificity "
        f"{point['specificity']:.3f} ({point['specificity_ci_low']:.3f}-{point['specificity_ci_high']:.3f})."
    )


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: all interfaces).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--max-upload-mb", default=20.0, show_default=True, type=click.FloatRange(0, min_open=True),
    help="Largest image upload accepted, in MiB.",
)
@model_options
def serve_command(host: str, port: int, max_upload_mb: float, model: str | None, project_path: Path, verbose: bool) -> None:
    """Serve the model as a web app: upload an X-ray, get the prediction."""
    predictor = load_model(model, project_path, verbose)
    from .webapp import run_server

    run_server(predictor, host=host, port=port, max_upload_bytes=int(max_upload_mb * 2**20))


@cli.command("export")
@click.option("--format", "export_format", type=click.Choice(["tflite"]), required=True, help="The file format to export to.")
@click.option(
    "--output", default=Path("tflite", "classifier.tflite"), show_default=True, type=click.Path(dir_okay=False, path_type=Path),
    help="The model file to write; predictor.json (preprocessing, calibration, threshold) is written beside it.",
)
@model_options
def export_command(export_format: str, output: Path, model: str | None, project_path: Path, verbose: bool) -> None:
    """Export the model for phones and embedded devices (TensorFlow Lite / LiteRT)."""
    predictor = load_model(model, project_path, verbose)
    from .inference.export import ExportError, export_tflite

    try:
        written = export_tflite(predictor, output)
    except ExportError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Wrote the TFLite model to '{written}' and its settings to '{written.parent / 'predictor.json'}'.")


if __name__ == "__main__":
    sys.exit(cli())
