"""The raw dataset's folder layout (``<root>/<split>/<class>/<image>``, as Kaggle publishes it) and
where in a folder it is found, for the ingestion pipeline and for the CLI's download check."""

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

# The Kaggle archive nests the dataset in an extra folder and ships macOS resource forks beside it.
IGNORED_FOLDERS = {"__MACOSX"}


class RawDataLayoutError(FileNotFoundError):
    """The raw data folder is missing or does not have the public Kaggle layout."""


def expected_layout(splits: list[str], classes: list[str]) -> str:
    """The layout a raw data folder must have, one line per split, for error messages."""
    return "\n".join(f"  <root>/{split}/{{{','.join(classes)}}}/*.jpeg" for split in splits)


def locate_layout_root(root: str | Path, splits: list[str], classes: list[str]) -> Path:
    """Find the folder holding the split folders: ``root`` itself or one nested folder below it.

    The Kaggle archive unpacks as ``chest_xray/{train,val,test}`` beside a ``__MACOSX`` folder,
    so a root one level above the splits is accepted.

    Raises:
        RawDataLayoutError: if the root or any split/class folder is missing.
    """
    root = Path(root).expanduser()
    how_to_fix = (
        "Expected layout:\n"
        f"{expected_layout(splits, classes)}\n"
        "Get the data with `pediatric-pneumonia download` (real Kaggle data) or "
        "`pediatric-pneumonia demo-data` (small synthetic images), or point the pipeline at "
        "your copy with `kedro run --params raw_data.root=/path/to/chest_xray`."
    )
    if not root.is_dir():
        raise RawDataLayoutError(f"Raw data folder '{root}' does not exist.\n{how_to_fix}")

    candidates = [root] + sorted(
        child
        for child in root.iterdir()
        if child.is_dir() and child.name not in IGNORED_FOLDERS and not child.name.startswith(".")
    )
    layout_root = next(
        (folder for folder in candidates if all((folder / split).is_dir() for split in splits)),
        None,
    )
    if layout_root is None:
        found = sorted(child.name for child in root.iterdir())
        raise RawDataLayoutError(
            f"Raw data folder '{root}' has no {'/'.join(splits)} split folders "
            f"(found: {found or 'nothing'}).\n{how_to_fix}"
        )
    missing = [
        f"{split}/{label}"
        for split in splits
        for label in classes
        if not (layout_root / split / label).is_dir()
    ]
    if missing:
        raise RawDataLayoutError(
            f"Raw data folder '{layout_root}' lacks the class folders {missing}.\n{how_to_fix}"
        )
    if layout_root != root:
        logger.info("Using nested dataset folder '%s' under '%s'.", layout_root, root)
    return layout_root
