"""The commands for another site's images: ``check-shift`` (unlabelled), ``evaluate`` and
``recalibrate`` (labelled); the work is done by ``evaluation.shift``, ``evaluation.site`` and
``inference.recalibration``."""

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from .options import InputOrModelError, load_model, model_options, project_parameters, start_tensorflow, why_no_input


@click.command("check-shift")
@click.argument("data", type=click.Path(path_type=Path), metavar="FOLDER")
@click.option(
    "--output",
    default=Path("shift_check"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write shift_report.json into (the tests, the per-image scores, unreadable files).",
)
@click.option(
    "--permutations",
    type=click.IntRange(99),
    default=None,
    help="Permutations of the MMD test (default: the package's).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Significance level (default: the package's).",
)
@model_options
def check_shift_command(
    data: Path,
    output: Path,
    permutations: int | None,
    alpha: float | None,
    model: str | None,
    project_path: Path,
    verbose: bool,
) -> None:
    """Check unlabelled X-rays for dataset shift against the model's validation images.

    FOLDER holds the images (the NORMAL/PNEUMONIA layout or flat; labels are not read; searched
    recursively, hidden files skipped). Prints the findings and writes shift_report.json under
    --output. Exit code: 0 done, 1 done but some files could not be read (listed), 2 no model, no
    shift reference in it, or fewer than 2 readable images.
    """
    from ..data_layout import visible_files

    files = visible_files(data) if data.is_dir() else []
    if not files:
        raise InputOrModelError(f"Nothing to check: {why_no_input([data])}. Give a folder of images.")
    with contextlib.redirect_stdout(sys.stderr):
        predictor = load_model(model, project_path, verbose)
        from ..evaluation.shift import (
            TooFewImagesError,
            read_stored_images,
            shift_check_report,
            summary_lines,
            write_shift_report,
        )
        from ..inference import NoShiftReferenceError

        if predictor.shift_reference is None:
            raise InputOrModelError(str(NoShiftReferenceError(predictor.name, predictor.config.get("format_version"))))
        stored = read_stored_images(predictor, files)
        for reason in stored.unreadable.values():
            click.echo(reason, err=True)
        overrides = {
            key: value for key, value in (("permutations", permutations), ("alpha", alpha)) if value is not None
        }
        try:
            report = shift_check_report(predictor, data, stored, overrides)
        except TooFewImagesError as error:
            raise InputOrModelError(str(error)) from error
    written = write_shift_report(report, output)
    click.echo(f"Shift check of {report['images']} images in '{data}' with {predictor.name}:")
    click.echo("\n".join(f"  {line}" for line in summary_lines(report)))
    click.echo(f"Wrote {written}.", err=True)
    if stored.unreadable:
        click.echo(
            f"{len(stored.unreadable)} of {len(files)} files could not be read (listed above and in the report).",
            err=True,
        )
        sys.exit(1)


def project_or_default_parameters(project_path: Path, env: str | None) -> dict:
    """The project's parameters; outside any project (no ``conf/base`` there) the defaults the
    package ships, said on stderr: a package folder or the built-in model needs no project."""
    from ..project_config import PACKAGED_PROJECT, load_project_config

    if (project_path / "conf" / "base").is_dir():
        return project_parameters(project_path, env)
    if env is not None:
        raise InputOrModelError(f"--env {env} needs a project, and '{project_path}' holds no conf/base: pass --project-path.")
    click.echo(f"No project in '{project_path.resolve()}': using the default parameters that ship with the package.", err=True)
    return load_project_config(PACKAGED_PROJECT, "parameters")


def site_parameters(project_path: Path, env: str | None, groups: Sequence[str], overrides: dict | None = None) -> dict:
    """The parameter groups ``groups`` of the project, checked against their schema (``overrides``
    merged into a group first), before any model is loaded; exit 2 when unusable."""
    from ..parameters import ParameterError, check_parameters

    parameters = project_or_default_parameters(project_path, env)
    checked = {}
    for group in groups:
        values = {**parameters.get(group, {}), **(overrides or {}).get(group, {})}
        try:
            checked[group] = check_parameters(group, values)
        except ParameterError as error:
            raise InputOrModelError(str(error)) from error
    return checked


def scored_site(predictor, data: Path):
    """The labelled images of ``data`` scored by ``predictor``, what was left out listed on stderr;
    exit 2 when ``data`` is not a labelled set or holds no readable image."""
    from ..data_layout import LabelledDataError, labelled_files
    from ..evaluation.site import NoReadableImageError, score_site

    try:
        scored = score_site(predictor, labelled_files(data, predictor.classes))
    except (LabelledDataError, NoReadableImageError) as error:
        raise InputOrModelError(str(error)) from error
    for line in scored.left_out:
        click.echo(f"Left out: {line}", err=True)
    return scored


@click.command("evaluate")
@click.argument("data", type=click.Path(exists=True, path_type=Path), metavar="FOLDER_OR_CSV")
@click.option(
    "--output",
    default=Path("evaluation"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for report.json, report.md, predictions.csv and the PNG figures.",
)
@click.option(
    "--mlflow", "log_to_mlflow", is_flag=True, help="Log the report as an MLflow run naming the model it evaluated."
)
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
        from ..evaluation.site import SUMMARY_FILE, site_report, write_site_report

        scored = scored_site(predictor, data)
        evaluation = site_report(predictor, scored, settings["reporting"], settings["calibration"].bins)
        written = write_site_report(evaluation, output)
        click.echo(f"Wrote {', '.join(path.name for path in written)} to '{output}'.", err=True)
        if log_to_mlflow:
            from ..inference.mlflow_model import log_evaluation_run, use_project_tracking

            uri, experiment_id = use_project_tracking(project_path, env)
            run_id = log_evaluation_run(
                evaluation.report, written, model or predictor.name, f"evaluate {data.name}", experiment_id
            )
            click.echo(f"Logged the evaluation as MLflow run {run_id} ({uri}).", err=True)
    click.echo((output / SUMMARY_FILE).read_text().rstrip("\n"))
    if scored.left_out:
        sys.exit(1)


@click.command("recalibrate")
@click.argument("data", type=click.Path(exists=True, path_type=Path), metavar="FOLDER_OR_CSV")
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the NEW predictor package.",
)
@click.option(
    "--method", default=None, help="Threshold method: youden, sensitivity_target or fixed (default: threshold.method)."
)
@click.option(
    "--register", is_flag=True, help="Register the new package as a new version of the base's registered model."
)
@click.option(
    "--site", "site_name", default=None, help="The site's name (required with --register; recorded in the provenance)."
)
@click.option(
    "--adapt-batchnorm",
    is_flag=True,
    help="Re-estimate BatchNormalization statistics on the site's images first (AdaBN).",
)
@click.option(
    "--env", default=None, help="Kedro environment whose parameters (calibration, threshold, reporting, site) to read."
)
@model_options
def recalibrate_command(
    data: Path,
    output: Path,
    method: str | None,
    register: bool,
    site_name: str | None,
    adapt_batchnorm: bool,
    env: str | None,
    model: str | None,
    project_path: Path,
    verbose: bool,
) -> None:
    """Refit the temperature and the decision threshold on labelled images of another site and write
    them, with their provenance, as a new predictor package (the base model is not changed).

    FOLDER_OR_CSV holds images of every class of the model: one subfolder per class (NORMAL/,
    PNEUMONIA/; for a NORMAL/BACTERIA/VIRUS model also PNEUMONIA/ with public personN_bacteria_M /
    personN_virus_M names), or a CSV of path,label[,patient]. A three-class model keeps its classes:
    its temperature and its threshold on P(pneumonia) are refitted."""
    if register and not site_name:
        raise click.UsageError("--register needs --site NAME: the new version is tagged with the site.")
    overrides = {"threshold": {"method": method}} if method else None
    settings = site_parameters(project_path, env, ("calibration", "threshold", "reporting", "site"), overrides)
    start_tensorflow(verbose)  # before the model code below imports it
    from ..inference.loading import PackageLocationError, check_new_package_folder

    try:
        check_new_package_folder(output, project_path, env)
    except PackageLocationError as error:
        raise InputOrModelError(str(error)) from error
    with contextlib.redirect_stdout(sys.stderr):
        predictor = load_model(model, project_path, verbose)
        from ..inference.mlflow_model import model_reference
        from ..inference.recalibration import RecalibrationError, recalibrated_predictor, save_new_package

        scored = scored_site(predictor, data)
        base = {**model_reference(model or predictor.name), "path": predictor.name}
        try:
            recalibrated = recalibrated_predictor(predictor, scored, settings, base, site_name, adapt_batchnorm)
        except RecalibrationError as error:
            raise click.ClickException(str(error)) from error
        save_new_package(recalibrated, output)
        if register:
            from ..inference.mlflow_model import register_recalibrated, use_project_tracking

            use_project_tracking(project_path, env)
            try:
                name, version = register_recalibrated(recalibrated, model or "", site_name)
            except ValueError as error:
                raise click.ClickException(
                    f"The package was written to '{output}', but not registered: {error}"
                ) from error
            click.echo(f"Registered as {name} version {version}, tagged site={site_name}.", err=True)
    summary = recalibration_summary(predictor, recalibrated, len(scored.predictions))
    click.echo(f"Wrote the recalibrated package to '{output}': {summary}")
    for caveat in recalibrated.caveats:
        click.echo(f"Caution (recorded in the package; every prediction with it repeats it): {caveat}.", err=True)


def recalibration_summary(base, recalibrated, images: int) -> str:
    """The temperature and threshold before and after, and the new operating point on the site's
    ``images`` (with a K-class model's argmax accuracy there)."""
    point = recalibrated.config["provenance"]["operating_point"]
    temperature, new_temperature = (package.config["calibration"]["temperature"] for package in (base, recalibrated))
    decision = recalibrated.config["decision"]
    accuracy = f", argmax accuracy {decision['validation_accuracy']:.3f}" if "validation_accuracy" in decision else ""

    def with_interval(name: str) -> str:
        return f"{name} {point[name]:.3f} ({point[f'{name}_ci_low']:.3f}-{point[f'{name}_ci_high']:.3f})"

    return (
        f"temperature {temperature:.3f} -> {new_temperature:.3f}, threshold {base.threshold:.3f} -> "
        f"{recalibrated.threshold:.3f} ({decision['method']}); on the site's {images} images "
        f"{with_interval('sensitivity')}, {with_interval('specificity')}{accuracy}."
    )
