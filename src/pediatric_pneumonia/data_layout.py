"""The raw dataset's folder layout (``<root>/<split>/<class>/<image>``, as Kaggle publishes it) and
where in a folder it is found, for the ingestion pipeline and for the CLI's download check; and a
labelled set of a new site (``<folder>/<class>/<image>`` or a CSV) for ``evaluate`` and ``recalibrate``."""

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .naming import PNEUMONIA, SUBTYPE_CLASSES, class_of_file, patient_id_from_filename

logger = logging.getLogger(__name__)

# The Kaggle archive nests the dataset in an extra folder and ships macOS resource forks beside it.
IGNORED_FOLDERS = {"__MACOSX"}
# What the public archive holds, images per split.
EXPECTED_IMAGES = {"train": 5216, "val": 16, "test": 624}
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}


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


def link_checked_download(
    downloaded: Path, root: Path, splits: list[str], classes: list[str], expected: dict[str, int]
) -> dict[str, int]:
    """Check that ``downloaded`` holds the ``expected`` images per split, then link ``root`` to it.

    The dataset may sit one folder down (the archive's ``chest_xray/``); ``__MACOSX`` is ignored.
    Returns the images found per split.

    Raises:
        RawDataLayoutError: if the layout is incomplete or the counts differ (nothing is linked).
    """
    try:
        layout_root = locate_layout_root(downloaded, splits, classes)
    except RawDataLayoutError as error:
        raise RawDataLayoutError(f"The download in '{downloaded}' is incomplete: {error}") from error
    found = count_images(layout_root, splits)
    if found != expected:
        raise RawDataLayoutError(
            f"The download in '{layout_root}' holds {found} images per split, expected "
            f"{expected}. Delete '{downloaded}' and download again."
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    root.symlink_to(layout_root.resolve(), target_is_directory=True)
    return found


class LabelledDataError(ValueError):
    """Labelled images for ``evaluate`` / ``recalibrate`` that cannot be used: no class folders and no
    CSV, an empty folder, or a CSV without the columns it needs."""


# The columns of a labelled CSV (``patient`` is optional): one row per image, paths relative to the CSV.
CSV_COLUMNS = ("path", "label")
CSV_PATIENT_COLUMN = "patient"


@dataclass(frozen=True)
class LabelledFiles:
    """Labelled image files: ``files`` (columns ``path``, ``label``, ``target``, ``patient_id`` and
    ``patient_from``, where the patient came from: ``CSV column``, ``file names`` or ``one per image``;
    in path order) and the rows left out with their reason (``problems``: unknown labels, missing files)."""

    files: pd.DataFrame
    problems: list[str] = field(default_factory=list)


def visible_files(folder: Path) -> list[Path]:
    """Regular files under ``folder``, recursively, in path order, without hidden files or folders."""
    files = []
    for parent, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        files += [Path(parent, name) for name in names if not name.startswith(".") and Path(parent, name).is_file()]
    return sorted(files)


def labelled_files(data: str | Path, classes: list[str], patient_key: str = "person_and_subtype") -> LabelledFiles:
    """The labelled images of ``data``: a folder with one subfolder per class (``NORMAL/``,
    ``PNEUMONIA/``, searched recursively) or a CSV of ``path,label[,patient]``. Patients come from the
    CSV's column, else from public file names (``naming.patient_id_from_filename``), else one per image.

    Raises:
        LabelledDataError: if ``data`` is neither, or holds no image at all.
    """
    data = Path(data).expanduser()
    layout = f"a folder with {' and '.join(f'{name}/' for name in classes)} subfolders, or a CSV of path,label[,patient]"
    if data.is_file():
        rows, problems = _csv_rows(data, classes)
    elif data.is_dir():
        folders = class_folders(data, classes)
        if not folders:
            children = [child for child in data.iterdir() if not child.name.startswith(".")]
            files, subfolders = sum(child.is_file() for child in children), sum(child.is_dir() for child in children)
            raise LabelledDataError(
                f"'{data}' has no class folders: it holds {files} files and {subfolders} other folders directly. "
                f"Give {layout} (class names in any case)."
            )
        rows = [(str(path), name, None) for name, folder in folders.items() for path in visible_files(folder)]
        # Subtype classes without a folder of their own come from the PNEUMONIA folder's names.
        by_name = any(name in SUBTYPE_CLASSES and name not in folders for name in classes)
        subtype_rows, unnamed = pneumonia_subtype_rows(data, classes) if by_name else ([], [])
        rows += subtype_rows
        labelled = {row[1] for row in rows}
        problems = [
            f"the {folders[name].name}/ folder holds no image files: the set holds no {name} images"
            if name in folders
            else f"no {name}/ folder: the set holds no {name} images"
            for name in classes
            if name not in labelled
        ] + unnamed
    else:
        raise LabelledDataError(f"'{data}' does not exist. Give {layout}.")
    if not rows:
        raise LabelledDataError(f"'{data}' holds no image files{': ' + '; '.join(problems) if problems else ''}. Give {layout}.")
    patients, sources = [], []
    for path, _, patient in rows:
        named = patient_id_from_filename(path, patient_key)
        patients.append(patient or named or path)
        sources.append("CSV column" if patient else "file names" if named else "one per image")
    frame = pd.DataFrame(
        {
            "path": [row[0] for row in rows],
            "label": [row[1] for row in rows],
            "target": [classes.index(row[1]) for row in rows],
            "patient_id": patients,
            "patient_from": sources,
        }
    ).sort_values("path", ignore_index=True)
    return LabelledFiles(frame, problems)


def where_labels_go(name: str) -> str:
    """Where ``labelled_files`` finds images of class ``name``, for a message asking for more of them."""
    subtype = SUBTYPE_CLASSES.get(name)
    return f"a {name}/ folder, CSV rows labelled {name}" + (
        f", or {PNEUMONIA}/ files named personN_{subtype}_M" if subtype else ""
    )


def pneumonia_subtype_rows(data: Path, classes: list[str]) -> tuple[list[tuple], list[str]]:
    """For a task of pneumonia subtypes (``classes`` holds BACTERIA / VIRUS) over the public layout:
    the ``(path, label, None)`` rows of the PNEUMONIA folder's files labelled by the subtype their
    names say, and, for a file whose name says none, why it is left out."""
    folder = class_folders(data, [PNEUMONIA]).get(PNEUMONIA)
    rows, problems = [], []
    for path in visible_files(folder) if folder else []:
        label = class_of_file(PNEUMONIA, path.name, classes)
        if label is None:
            problems.append(f"'{path}': its name says no pneumonia subtype (personN_bacteria_M or personN_virus_M): left out")
        else:
            rows.append((str(path), label, None))
    return rows, problems


def class_folders(data: Path, classes: list[str]) -> dict[str, Path]:
    """Each class's subfolder of ``data``, its name matched whatever its case (``normal/`` is NORMAL)."""
    by_name = {child.name.upper(): child for child in sorted(data.iterdir()) if child.is_dir()}
    return {name: by_name[name.upper()] for name in classes if name.upper() in by_name}


def _csv_rows(csv_path: Path, classes: list[str]) -> tuple[list[tuple], list[str]]:
    """The usable ``(path, label, patient)`` rows of a labelled CSV and, for every other row, why not."""
    try:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise LabelledDataError(f"'{csv_path}' is not a readable CSV ({error}). Give columns path,label[,patient].") from error
    missing = [column for column in CSV_COLUMNS if column not in table.columns]
    if missing:
        raise LabelledDataError(
            f"'{csv_path}' lacks the column(s) {missing} (found {list(table.columns)}). Give columns path,label[,patient]."
        )
    rows, problems = [], []
    class_by_name = {name.upper(): name for name in classes}  # labels match whatever their case
    for line, record in enumerate(table.to_dict("records"), start=2):
        path = Path(record["path"]).expanduser()
        path = path if path.is_absolute() else csv_path.parent / path
        label = class_by_name.get(record["label"].strip().upper())
        if label is None:
            problems.append(f"line {line}: unknown label {record['label']!r} (use one of {classes}): {record['path']} left out")
        elif not path.is_file():
            problems.append(f"line {line}: '{path}' is not a file: left out")
        else:
            rows.append((str(path), label, record.get(CSV_PATIENT_COLUMN) or None))
    return rows, problems
