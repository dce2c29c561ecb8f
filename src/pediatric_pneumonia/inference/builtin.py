"""The predictor package that ships with the project (``builtin_model/``), so that ``predict`` and
``serve`` answer on a fresh install before any training. Maintainers refresh it from a trained
package with ``make builtin-model`` (docs/use-a-model.md: The built-in model)."""

import argparse
import json
import shutil
from pathlib import Path

from .package import read_package, read_shift_reference, write_package

BUILTIN_PACKAGE = Path(__file__).resolve().parent.parent / "builtin_model"
PROVENANCE_FILE = "provenance.json"
MODEL_CARD_FILE = "MODEL_CARD.md"


def builtin_model_name() -> str:
    """How the built-in model is named in every answer: what it is and what it was trained on."""
    provenance = json.loads((BUILTIN_PACKAGE / PROVENANCE_FILE).read_text())
    return f"built-in model, trained on {provenance['data']} (commit {provenance['commit']}, seed {provenance['seed']})"


def replace_builtin_package(source: Path, model_card: Path, provenance: dict, target: Path = BUILTIN_PACKAGE) -> None:
    """Write the package in ``source`` (without optimizer state) with its model card and
    ``provenance`` (data, commit, command, seed, parameters) into ``target``, replacing what is there
    only once the new package is complete."""
    classifier, config = read_package(source)
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    write_package(staging, classifier, config, read_shift_reference(source, config))
    shutil.copyfile(model_card, staging / MODEL_CARD_FILE)
    (staging / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make builtin-model", description="Replace the built-in model with a trained predictor package.")
    parser.add_argument("package", type=Path, help="a predictor package folder (data/06_models/<strategy>/predictor/<version>/predictor)")
    parser.add_argument("--model-card", type=Path, required=True, help="the run's model card (data/06_models/<strategy>/model_card.md)")
    parser.add_argument("--data", required=True, help="what it was trained on, in words")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--command", required=True, help="the command that trained it")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--parameters", default="conf/base", help="the configuration it was trained with, and overrides")
    arguments = parser.parse_args()
    provenance = {
        "data": arguments.data,
        "commit": arguments.commit,
        "command": arguments.command,
        "seed": arguments.seed,
        "parameters": arguments.parameters,
    }
    replace_builtin_package(arguments.package, arguments.model_card, provenance)


if __name__ == "__main__":
    main()
