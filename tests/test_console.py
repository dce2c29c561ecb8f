import os
import subprocess
import sys
from pathlib import Path

import pytest

from pediatric_pneumonia import console
from tests.conftest import REPO_ROOT
from tests.inference.test_predictor import write_jpeg

KERAS_SUM = "import keras; print(float(keras.ops.sum(keras.ops.ones(3))))"
QUIET_KERAS_SUM = f"from pediatric_pneumonia.console import quiet_tensorflow; quiet_tensorflow(); {KERAS_SUM}"
# What TensorFlow 2.21 printed on a CPU-only machine (one line of each kind).
NOISE_LINES = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795840993.008835   10791 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    "GPU will not be used.",
    "E0000 00:00:1795841000.104008   10791 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    "Failed call to cuInit: UNKNOWN ERROR (303)",
    "I0000 00:00:1795840993.137734   10791 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate "
    "compiler flags.",
    "I tensorflow/core/util/port.cc:153] oneDNN custom operations are on. You may see slightly different numerical "
    "results due to floating-point round-off errors from different computation orders.",
)


def run_python(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter, with the environment's TensorFlow logging settings removed."""
    environment = {name: value for name, value in os.environ.items() if name not in console.QUIET_ENVIRONMENT}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=300, check=True
    )


def noise_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if console.is_startup_noise(line)]


def test_every_known_notice_is_noise_and_a_real_error_is_not():
    assert all(console.is_startup_noise(line) for line in NOISE_LINES)
    real = "E0000 00:00:1.0 1 op_kernel.cc:1] OOM when allocating tensor with shape[132,32,146,146]"
    assert console.without_startup_noise("\n".join([*NOISE_LINES, real, "Traceback (most recent call last):"])) == (
        f"{real}\nTraceback (most recent call last):\n"
    )


def test_a_real_line_written_to_stderr_during_the_start_is_passed_on(monkeypatch, capfd):
    def start_with_a_real_error() -> None:
        os.write(2, f"{NOISE_LINES[1]}\nsomething real went wrong\n{NOISE_LINES[2]}\n".encode())

    monkeypatch.setattr(console, "_quieted", False)
    monkeypatch.setattr(console, "_start_tensorflow", start_with_a_real_error)
    console.quiet_tensorflow()
    assert capfd.readouterr().err == "something real went wrong\n"
    # Idempotent: a second call starts nothing and prints nothing.
    monkeypatch.setattr(console, "_start_tensorflow", lambda: os.write(2, b"started twice\n"))
    console.quiet_tensorflow()
    assert capfd.readouterr().err == ""


def test_tensorflow_starts_quietly_after_quiet_tensorflow():
    quiet = run_python(QUIET_KERAS_SUM)
    assert quiet.stdout.strip() == "3.0"
    assert noise_in(quiet.stderr) == [], quiet.stderr


def test_tensorflow_is_noisy_without_quiet_tensorflow():
    loud = run_python(KERAS_SUM)
    assert loud.stdout.strip() == "3.0"
    if not noise_in(loud.stderr):
        pytest.skip("This machine's TensorFlow prints none of the known start-up notices: nothing to silence here.")
    assert noise_in(loud.stderr)


NOISE = ("register_new_resolver", "oneDNN", "absl::InitializeLog", "cuda", "UserWarning", "DeprecationWarning")


def labelled_site(root: Path) -> Path:
    for label, seeds in (("NORMAL", (1, 2, 3)), ("PNEUMONIA", (4, 5, 6))):
        (root / label).mkdir(parents=True)
        for seed in seeds:
            write_jpeg(root / label / f"person{seed}_{label.lower()}.jpeg", seed)
    return root


@pytest.mark.parametrize("command", ["predict", "evaluate", "recalibrate", "check-shift", "export"])
def test_the_installed_model_commands_print_no_third_party_noise(command, tmp_path):
    """In a project (conf/ is read, where Kedro's loader warns) with the built-in model."""
    site = labelled_site(tmp_path / "site")
    arguments = {
        "predict": ["predict", str(site / "NORMAL")],
        "evaluate": ["evaluate", str(site), "--output", str(tmp_path / "report")],
        "recalibrate": ["recalibrate", str(site), "--output", str(tmp_path / "recalibrated")],
        "check-shift": ["check-shift", str(site), "--output", str(tmp_path / "shift")],
        "export": ["export", "--format", "tflite", "--output", str(tmp_path / "tflite" / "model.tflite")],
    }[command]
    executable = Path(sys.executable).with_name("pediatric-pneumonia")

    finished = subprocess.run(
        [str(executable), *arguments, "--model", "builtin"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )

    assert finished.returncode == 0, finished.stderr
    output = finished.stdout + finished.stderr
    assert not [word for word in NOISE if word in output], output
    assert "Model: built-in model, trained on" in finished.stderr


def test_the_installed_serve_command_prints_no_third_party_noise(tmp_path):
    executable = Path(sys.executable).with_name("pediatric-pneumonia")
    server = subprocess.Popen(
        [str(executable), "serve", "--model", "builtin", "--port", "0"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        announced = server.stdout.readline()  # the address, once the model is loaded and the port bound
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=60)

    assert announced.startswith("Serving built-in model"), errors
    assert not [word for word in NOISE if word in announced + errors], errors
