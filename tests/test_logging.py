"""Logs and notices go to stderr: Kedro reads the project's conf/logging.yml, and importing the
package prints nothing, so stdout is left to the data a command writes."""

import subprocess
import sys

from tests.conftest import REPO_ROOT


def python(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=cwd, check=True)


def test_kedro_configures_logging_from_conf_logging_yml_and_logs_to_stderr():
    started = python(
        "import logging, kedro.framework.project; logging.getLogger('pediatric_pneumonia').info('a project log line')",
        cwd=REPO_ROOT,
    )

    assert started.stdout == ""
    assert "conf/logging.yml" in started.stderr
    assert "a project log line" in started.stderr


def test_importing_the_predictor_api_prints_nothing_on_stdout(tmp_path):
    assert python("from pediatric_pneumonia import Predictor", cwd=tmp_path).stdout == ""
