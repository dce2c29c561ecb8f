"""MLflow helpers: reports and histories in kedro-mlflow's metric formats (for the ``*_tracked``
datasets), named by the one scheme below, and tracking URIs that other processes can reach.

Every metric a run logs is ``<strategy>.<subset>.<figure>`` (the ``<strategy>.`` prefix is the
catalog's): ``train.*`` and ``validation.*`` curves, one step per epoch (``member_<i>.`` in front
for an ensemble's or a distillation's other networks); ``test.*`` the test report; the report's
``validation.*`` figures (the operating point and calibration measured on validation);
``operating_point.threshold`` and ``calibration.temperature``, the fitted parts of the model;
``stress.validation.*`` / ``stress.test.*``, ``shortcuts.*``, ``explain.*`` their reports. The
DCGANs' losses are ``synthesis.train.<class>.*`` (per iteration) beside the ``synthesis.<class>.*`` report, and
an ``evaluate`` run logs ``site.*``.
"""

from pathlib import Path

# A report's figures that describe the model's fitted parts, not the subset it scored.
MODEL_FIGURES = {"threshold": "operating_point.threshold", "calibration_temperature": "calibration.temperature"}
# A report's figures measured on another subset than its own carry that subset as a word prefix.
SUBSET_PREFIXES = ("validation", "test")


def to_mlflow_metrics(metrics: dict) -> dict[str, dict[str, float]]:
    """The numeric scalars of ``metrics`` in kedro-mlflow's metrics format (step 0)."""
    return {
        name: {"value": float(value), "step": 0}
        for name, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def report_metric_name(figure: str, subset: str) -> str:
    """The MLflow name of a report's ``figure`` scored on ``subset``: ``roc_auc`` -> ``test.roc_auc``,
    ``validation_sensitivity`` -> ``validation.sensitivity``, ``threshold`` -> ``operating_point.threshold``."""
    if figure in MODEL_FIGURES:
        return MODEL_FIGURES[figure]
    for other in SUBSET_PREFIXES:
        if figure.startswith(f"{other}_"):
            return f"{other}.{figure.removeprefix(f'{other}_')}"
    return f"{subset}.{figure}"


def report_metrics(report: dict, subset: str) -> dict[str, dict[str, float]]:
    """The numeric scalars of a report on ``subset`` in kedro-mlflow's format, named by
    ``report_metric_name``."""
    return {report_metric_name(name, subset): entry for name, entry in to_mlflow_metrics(report).items()}


def tracked_test_report(test_metrics: dict) -> dict[str, dict[str, float]]:
    """The test report's MLflow metrics (``test.*``, with its validation and model figures)."""
    return report_metrics(test_metrics, "test")


def history_metric_name(name: str) -> str:
    """The MLflow name of a Keras history key: ``loss`` -> ``train.loss``, ``val_auc`` ->
    ``validation.auc``, ``member_1.val_loss`` -> ``member_1.validation.loss``."""
    member, _, metric = name.rpartition(".")
    subset, metric = ("validation", metric.removeprefix("val_")) if metric.startswith("val_") else ("train", metric)
    return ".".join(part for part in (member, subset, metric) if part)


def to_mlflow_history(history: dict[str, list[float]]) -> dict[str, list[dict[str, float]]]:
    """A Keras training history in kedro-mlflow's metrics format, one step per epoch, named by
    ``history_metric_name``."""
    return {
        history_metric_name(name): [{"value": value, "step": epoch} for epoch, value in enumerate(values)]
        for name, values in history.items()
    }


def absolute_tracking_uri(uri: str, base: Path) -> str:
    """``uri`` with a relative SQLite path (``sqlite:///mlflow.db``, as conf/base/mlflow.yml has it)
    made absolute against ``base``, so processes started elsewhere reach the same store."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return f"{prefix}{(base / uri.removeprefix(prefix)).resolve()}"
    return uri
