"""``demo-data`` and ``download``: put the data the pipelines read at ``raw_data.root`` of the chosen
Kedro environment, so the place where the data lives is configured once, in ``conf/<env>/parameters.yml``."""

import shutil
from pathlib import Path

import click

from .options import project_parameters, project_path_option

KAGGLE_DATASET = "paultimothymooney/chest-xray-pneumonia"
KAGGLE_PAGE = f"https://www.kaggle.com/datasets/{KAGGLE_DATASET}"


def raw_data_root(project_path: Path, raw_data: dict) -> Path:
    """``raw_data.root``, which is relative to the project (as in a Kedro run) unless absolute."""
    return project_path / raw_data["root"]


@click.command("demo-data")
@click.option(
    "--env", default="demo", show_default=True, help="Kedro environment whose raw_data.root and demo_data to use."
)
@click.option("--force", is_flag=True, help="Regenerate even if the folder already exists.")
@project_path_option
def demo_data_command(env: str, force: bool, project_path: Path) -> None:
    """Generate the synthetic demo dataset (deterministic) into raw_data.root."""
    from ..demo_data import generate_demo_dataset

    parameters = project_parameters(project_path, env)
    if "demo_data" not in parameters:
        raise click.ClickException(f"conf/{env} has no demo_data parameters; use --env demo.")
    root = raw_data_root(project_path, parameters["raw_data"])
    if root.exists() and not force:
        click.echo(f"Demo data already in '{root}' (use --force to regenerate).")
        return
    if root.exists():
        shutil.rmtree(root)
    written = generate_demo_dataset(root, parameters["demo_data"], parameters["raw_data"]["folders"])
    click.echo(f"Wrote synthetic demo images to '{root}': {written}.")


@click.command("download")
@click.option("--env", default="base", show_default=True, help="Kedro environment whose raw_data.root to fill.")
@project_path_option
def download_command(env: str, project_path: Path) -> None:
    """Download the Kermany et al. dataset from Kaggle, check it, and link it at raw_data.root."""
    import kagglehub

    from ..data_layout import EXPECTED_IMAGES

    raw_data = project_parameters(project_path, env)["raw_data"]
    root = raw_data_root(project_path, raw_data)
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
    """``data_layout.link_checked_download`` for ``raw_data``'s splits and classes; a refusal exits 1
    with its reason."""
    from ..data_layout import RawDataLayoutError, link_checked_download

    try:
        return link_checked_download(downloaded, root, raw_data["splits"], raw_data["folders"], expected)
    except RawDataLayoutError as error:
        raise click.ClickException(str(error)) from error
