"""MLflow helpers: reports and histories in kedro-mlflow's metric formats (for the ``*_tracked``
datasets), and tracking URIs that other processes can reach."""

from pathlib import Path


def to_mlflow_metrics(metrics: dict) -> dict[str, dict[str, float]]:
    """The numeric scalars of ``metrics`` in kedro-mlflow's metrics format (step 0)."""
    return {
        name: {"value": float(value), "step": 0}
        for name, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def to_mlflow_history(history: dict[str, list[float]]) -> dict[str, list[dict[str, float]]]:
    """A Keras training history in kedro-mlflow's metrics format, one step per epoch."""
    return {
        name: [{"value": value, "step": epoch} for epoch, value in enumerate(values)]
        for name, values in history.items()
    }


def absolute_tracking_uri(uri: str, base: Path) -> str:
    """``uri`` with a relative SQLite path (``sqlite:///mlflow.db``, as conf/base/mlflow.yml has it)
    made absolute against ``base``, so processes started elsewhere reach the same store."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return f"{prefix}{(base / uri.removeprefix(prefix)).resolve()}"
    return uri
