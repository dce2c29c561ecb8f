"""One study job in a process of its own: ``python -m pediatric_pneumonia.study.job <folder>/job.json``.

The job is a Kedro session of the study's own project and environment, with the study's parameters
(plus the job's seed and GAN profile) as runtime parameters, so it runs exactly the strategy's
nodes that a ``kedro run`` would, with the project's hooks: kedro-mlflow logs into the job's MLflow
child run, which this process opens first (kedro-mlflow then uses the active run, as it does under
an orchestrator). Its catalog is the project's too; ``JobFolderRunner`` only moves the files of the
datasets the job writes into the job's folder before the first node, so side-by-side jobs never share
a file, and lists those datasets there (``writes.json``) for the jobs that read them. A fresh process
per job keeps TensorFlow's and MLflow's global state apart from the study's session and from the
other jobs.
"""

import json
import sys
from pathlib import Path

import mlflow
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import AbstractVersionedDataset, DataCatalog
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

PATH_KEYS = ("filepath", "path")
WRITES_FILE = "writes.json"


def move_dataset(catalog: DataCatalog, name: str, project_path: Path, folder: Path) -> None:
    """Point dataset ``name`` of ``catalog`` at ``folder`` / its path under ``project_path``, keeping
    the rest of its configuration and the run's save version; datasets without a file in the project
    (in memory, MLflow metrics) stay as they are."""
    config = catalog.config_resolver.config.get(name) or catalog.config_resolver.resolve_pattern(name)
    key = next((key for key in PATH_KEYS if key in config), None)
    if key is None or not Path(config[key]).is_relative_to(project_path):
        return
    dataset = catalog.get(name)
    save_version = dataset.resolve_save_version() if isinstance(dataset, AbstractVersionedDataset) else None
    moved = {**config, key: (folder / Path(config[key]).relative_to(project_path)).as_posix()}
    catalog[name] = DataCatalog.from_config({name: moved}, save_version=save_version).get(name)


class JobFolderRunner(SequentialRunner):
    """A ``SequentialRunner`` that first moves every dataset the pipeline writes into ``folder`` (and
    lists them in its ``writes.json``), and each input that a job folder of ``reads_from`` lists to that
    folder.

    Kedro builds a session's catalog inside ``session.run``; the runner is the public seam that gets
    that catalog before the first node, and the session's hooks hold the same object, so they see
    (and log to MLflow) the moved files.
    """

    def __init__(self, project_path: Path, folder: Path, reads_from: list[str]) -> None:
        super().__init__()
        self._project_path, self._folder, self._reads_from = project_path, folder, [Path(other) for other in reads_from]

    def run(self, pipeline: Pipeline, catalog: DataCatalog, *args, **kwargs) -> dict:
        writes = sorted(pipeline.all_outputs())
        for name in writes:
            move_dataset(catalog, name, self._project_path, self._folder)
        (self._folder / WRITES_FILE).write_text(json.dumps(writes, indent=2))
        for other in self._reads_from:
            for name in sorted(pipeline.inputs() & set(json.loads((other / WRITES_FILE).read_text()))):
                move_dataset(catalog, name, self._project_path, other)
        return super().run(pipeline, catalog, *args, **kwargs)


def run_study_job(spec: dict) -> None:
    """Run the job ``spec`` (``jobs.launch_jobs`` writes it) inside its MLflow run: FINISHED, or FAILED on an error."""
    project_path = Path(spec["project_path"]).resolve()
    bootstrap_project(project_path)
    mlflow.set_tracking_uri(spec["tracking_uri"])
    runner = JobFolderRunner(project_path, Path(spec["folder"]), spec["reads_from"])
    with mlflow.start_run(run_id=spec["run_id"]):
        with KedroSession.create(project_path=project_path, env=spec["env"], runtime_params=spec["parameters"]) as session:
            session.run(pipeline_names=[spec["pipeline"]], tags=spec["tags"], runner=runner)


if __name__ == "__main__":
    run_study_job(json.loads(Path(sys.argv[1]).read_text()))
