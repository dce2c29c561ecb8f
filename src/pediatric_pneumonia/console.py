"""A quiet console for the CLI and the web app: logs on stderr, and TensorFlow's start-up chatter
without its real errors.

TensorFlow 2.21 writes its start-up notices from C++ straight to file descriptor 2, before and
regardless of ``TF_CPP_MIN_LOG_LEVEL``, so the only way to hide them is to catch that descriptor
while TensorFlow starts, then pass on every line that is not one of the known notices.
"""

import logging
import os
import re
import sys
import tempfile

from rich.console import Console

# The console the project's log handler writes to (conf/logging.yml names it): stderr, where rich's
# default console would write to stdout, which belongs to the commands' results.
LOG_CONSOLE = Console(stderr=True)

# What TensorFlow prints on every start on a machine without a GPU (or without AVX-512), none of it
# actionable. Each pattern is searched in one line; anything else written to stderr during the
# start is passed on, so a real error is never hidden.
STARTUP_NOISE = (
    # absl's preamble before TensorFlow's own logging is set up.
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    # The CUDA probe on a machine without a GPU driver.
    re.compile(r"Could not find cuda drivers on your machine, GPU will not be used"),
    re.compile(r"failed call to cuInit: .*CUDA error"),
    # The CPU feature notice (two lines).
    re.compile(r"This TensorFlow binary is optimized to use available CPU instructions"),
    re.compile(r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$"),
    # The oneDNN notice on CPUs where its custom operations are on by default.
    re.compile(r"oneDNN custom operations are on\. You may see slightly different numerical results"),
    # GPU plugins registered twice when TensorFlow and another CUDA library share the process.
    re.compile(r"Unable to register cu(DNN|FFT|BLAS) factory: Attempting to register factory for plugin"),
    re.compile(r"TF-TRT Warning: Could not find TensorRT"),
)

# TF_CPP_MIN_LOG_LEVEL still hides the C++ INFO and WARNING lines that do go through TensorFlow's
# logger. TF_ENABLE_ONEDNN_OPTS is left alone on purpose: turning oneDNN off changes the numbers
# and the speed of every run, and its notice is filtered above anyway.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2"}

_quieted = False


def is_startup_noise(line: str) -> bool:
    """Whether ``line`` (without its newline) is one of TensorFlow's known start-up notices."""
    return any(pattern.search(line) for pattern in STARTUP_NOISE)


def without_startup_noise(text: str) -> str:
    """``text`` without the lines that are known start-up noise (blank lines dropped too)."""
    kept = [line for line in text.splitlines() if line.strip() and not is_startup_noise(line)]
    return "".join(f"{line}\n" for line in kept)


def _start_tensorflow() -> None:
    """Import TensorFlow and Keras and run what probes the devices (TensorFlow looks for CUDA lazily)."""
    import keras
    import tensorflow as tf

    tf.config.list_physical_devices()
    keras.ops.sum(keras.ops.ones(1))


def quiet_tensorflow() -> None:
    """Start TensorFlow with its C++ start-up notices filtered out of stderr; idempotent.

    Call it before anything imports keras or tensorflow. Lines written to stderr meanwhile that are
    not known noise (``STARTUP_NOISE``) are written to stderr afterwards. Python-level TensorFlow
    and absl logging is set to ERROR.
    """
    global _quieted
    if _quieted:
        return
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    sys.stderr.flush()
    try:
        saved_stderr = os.dup(2)
    except OSError:  # no usable stderr (a detached service): nothing to print, nothing to hide
        _start_tensorflow()
    else:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                _start_tensorflow()
            finally:
                sys.stderr.flush()
                os.dup2(saved_stderr, 2)
                os.close(saved_stderr)
                captured.seek(0)
                sys.stderr.write(without_startup_noise(captured.read().decode(errors="replace")))
                sys.stderr.flush()
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    _quieted = True
