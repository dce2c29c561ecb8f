"""Ray as the search and the study use it: whether it is installed, and whether the cluster at
``RAY_ADDRESS`` answers, checked before anything trains."""

import importlib.util
import socket
from urllib.parse import urlsplit

INSTALL_RAY = 'pip install "pediatric-pneumonia[search]"'


def ray_installed() -> bool:
    """Whether Ray and Ray Tune can be imported."""
    return importlib.util.find_spec("ray") is not None and importlib.util.find_spec("ray.tune") is not None


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
