"""``pediatric-pneumonia``: get the data the pipelines read (real Kaggle data or synthetic demo data).

Both commands write to ``raw_data.root`` of the chosen Kedro environment, so the place where
the data lives is configured once, in ``conf/<env>/parameters.yml``.
"""

import shutil
import sys
from pathlib import Path

import click
import kagglehub
from kedro.config import OmegaConfigLoader

from .demo_data import generate_demo_dataset
from .pipelines.ingestion.nodes import RawDataLayoutError, locate_layout_root
from .settings import CONFIG_LOADER_ARGS

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
    loader = OmegaConfigLoader(conf_source="conf", env=env, **CONFIG_LOADER_ARGS)
    return loader["parameters"]


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
def cli() -> None:
    """Data commands of the pediatric-pneumonia project."""


@cli.command("demo-data")
@click.option("--env", default="demo", show_default=True, help="Kedro environment whose raw_data.root and demo_data to use.")
@click.option("--force", is_flag=True, help="Regenerate even if the folder already exists.")
def demo_data_command(env: str, force: bool) -> None:
    """Generate the synthetic demo dataset (deterministic) into raw_data.root."""
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

if __name__ == "__main__":
    sys.exit(cli())
