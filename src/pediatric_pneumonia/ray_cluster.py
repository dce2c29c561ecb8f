"""Whether Ray can run a ``backend: ray`` group (the search, the study): installed, and the cluster at
``RAY_ADDRESS`` answering. Checked before the first node; imports no Ray and no model code."""

import importlib.util
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

INSTALL_RAY = 'pip install "pediatric-pneumonia[search]"'
# What a cluster's workers need of this project: the package's folder (this module's), shipped with the job.
CLUSTER_PY_MODULES = (str(Path(__file__).parent),)


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None and importlib.util.find_spec("ray.tune") is not None


def check_ray_backend(key: str, timeout_s: float) -> None:
    """Raise an ImportError if Ray Tune is not installed, or a ConnectionError if ``RAY_ADDRESS`` is
    set and does not answer within ``timeout_s``, for the group whose ``key`` (``search.backend``) is ray."""
    if not ray_installed():
        raise ImportError(f"{key} is 'ray' but Ray Tune is not installed: {INSTALL_RAY}, or set {key}: sequential.")
    address = os.environ.get("RAY_ADDRESS")
    if address:
        check_ray_address_answers(address, timeout_s)


def check_ray_address_answers(address: str, timeout_s: float) -> None:
    """Raise a ConnectionError naming ``address`` (``RAY_ADDRESS``) if nothing listens there.

    A TCP connection within ``timeout_s`` seconds: ``ray.init`` itself retries a dead address for
    a minute before failing. ``auto`` and ``local`` are Ray's own names, not addresses.
    """
    if address in ("auto", "local"):
        return
    location = urlsplit(address if "://" in address else f"ray://{address}")
    if location.hostname is None or location.port is None:
        raise ValueError(f"RAY_ADDRESS '{address}' is not host:port (a Ray head, e.g. 10.0.0.5:6379 or ray://10.0.0.5:10001).")
    try:
        with socket.create_connection((location.hostname, location.port), timeout=timeout_s):
            pass
    except OSError as error:
        raise ConnectionError(
            f"RAY_ADDRESS is '{address}' but no Ray cluster answers there within {timeout_s:g} s ({error}). "
            "Start the cluster (`ray start --head`), fix the address, or unset RAY_ADDRESS to run on this machine."
        ) from error
