"""The app on a real uvicorn server answers concurrent good and bad uploads correctly and stays up."""

import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

from pediatric_pneumonia.webapp import ServeLimits, run_server
from tests.webapp.conftest import LIVE_UPLOAD_LIMIT


def test_concurrent_good_and_bad_uploads_are_all_answered_correctly(live_server, predictor, jpeg_bytes, png_bytes, bomb_png):
    uploads = {
        "good jpeg": (jpeg_bytes, 200),
        "good png": (png_bytes, 200),
        "text": (b"not an image at all", 415),
        "truncated": (jpeg_bytes[: len(jpeg_bytes) // 2], 422),
        "bomb": (bomb_png, 413),
        "oversized": (b"\xff\xd8\xff" + bytes(LIVE_UPLOAD_LIMIT), 413),
    }
    requests = [name for name in uploads for _ in range(2)]  # 12 requests
    expected_probability = {
        "good jpeg": predictor.predict(jpeg_bytes).probability,
        "good png": predictor.predict(png_bytes).probability,
    }

    def send(name: str) -> tuple[str, httpx.Response]:
        with httpx.Client(base_url=live_server, timeout=30) as client:
            return name, client.post("/api/predict", files={"file": (f"{name}.jpg", uploads[name][0])})

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(send, requests))

    for name, response in answers:
        assert response.status_code == uploads[name][1], (name, response.text)
        if name in expected_probability:
            assert abs(response.json()["probability"] - expected_probability[name]) < 1e-6
        else:
            assert response.json()["detail"]
    health = httpx.get(f"{live_server}/api/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_run_server_binds_the_address_then_serves_the_app_with_uvicorn_without_reload(monkeypatch, capsys, predictor):
    calls = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda server, sockets=None: calls.append((server.config, sockets)))

    run_server(predictor, host="127.0.0.1", port=0, limits=ServeLimits(max_upload_bytes=1000))

    (config, sockets), = calls
    try:
        assert config.reload is False and config.log_level == "info"
        assert [sock.getsockname()[0] for sock in sockets] == ["127.0.0.1"]  # bound before uvicorn starts
        assert any(route.path == "/api/predict" for route in config.app.routes)
        assert "http://127.0.0.1:0/" in capsys.readouterr().out
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize(("token", "advice"), [(None, "no token is required: see serve --help, --token"), ("t" * 20, "who has the token")])
def test_serving_beyond_loopback_warns_loudly_and_says_whether_a_token_guards_it(monkeypatch, caplog, predictor, token, advice):
    calls = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda server, sockets=None: calls.append(sockets))

    with caplog.at_level(logging.WARNING):
        run_server(predictor, host="0.0.0.0", port=0, token=token)

    for sock in calls[0]:
        sock.close()
    assert "Serving on 0.0.0.0: anyone who can reach this machine can upload images" in caplog.text and advice in caplog.text
