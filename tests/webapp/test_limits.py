"""What keeps the app bounded and closed: the decoded-size cap, the admission bound (503 with
Retry-After when every place is taken, against a real server with real concurrent requests) and
the access token."""

import threading

import httpx
from fastapi.testclient import TestClient

from pediatric_pneumonia.webapp import ServeLimits, create_app
from pediatric_pneumonia.webapp.app import serving_in_background
from tests.webapp.conftest import png_claiming_size

TOKEN = "a-long-enough-test-token"


def held_upload(content: bytes, release: threading.Event, started: threading.Event):
    """A multipart body sent in two parts: the second only once ``release`` is set, so the request
    holds its place in the server meanwhile."""
    boundary = "held"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n'
    tail = f"\r\n--{boundary}--\r\n"

    def body():
        yield head.encode() + content[:10]
        started.set()
        release.wait(timeout=30)
        yield content[10:] + tail.encode()

    return body(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_a_png_announcing_a_large_16_bit_rgba_array_is_refused_before_decoding(predictor):
    # 7,000 x 7,000 is under the 50-megapixel limit, but 4 channels x 16 bits decode to 392 MB.
    bomb = png_claiming_size(7000, 7000, bit_depth=16, colour_type=6)
    with TestClient(create_app(predictor), base_url="http://127.0.0.1") as client:
        response = client.post("/api/predict", files={"file": ("deep.png", bomb, "image/png")})

    assert response.status_code == 413
    assert "7000x7000 pixels x 4 channels x 16 bits = 392 MB, more than the limit of 100 MB" in response.json()["detail"]


def test_a_full_server_answers_503_with_retry_after_and_serves_again_once_free(predictor, png_bytes):
    limits = ServeLimits(concurrent=1, waiting=1)
    release = threading.Event()
    with serving_in_background(create_app(predictor, limits)) as url:
        results, threads = [], []
        for _ in range(2):  # one running (its upload unfinished) and one waiting: every place taken
            started = threading.Event()
            body, headers = held_upload(png_bytes, release, started)
            thread = threading.Thread(
                target=lambda body=body, headers=headers: results.append(httpx.post(f"{url}/api/predict", content=body, headers=headers, timeout=30))
            )
            thread.start()
            threads.append(thread)
            assert started.wait(timeout=10)
        refused = httpx.post(f"{url}/api/predict", files={"file": ("x.png", png_bytes, "image/png")}, timeout=30)
        release.set()
        for thread in threads:
            thread.join(timeout=30)
        again = httpx.post(f"{url}/api/predict", files={"file": ("x.png", png_bytes, "image/png")}, timeout=30)

    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "The server is busy (2 requests in progress)" in refused.json()["detail"]
    assert [response.status_code for response in results] == [200, 200]
    assert again.status_code == 200


def test_with_a_token_the_api_answers_only_requests_that_carry_it(predictor, png_bytes):
    with TestClient(create_app(predictor, token=TOKEN), base_url="http://127.0.0.1") as client:
        missing = client.get("/api/health")
        wrong = client.get("/api/health", headers={"Authorization": "Bearer not-the-token"})
        upload = client.post("/api/predict", files={"file": ("x.png", png_bytes, "image/png")})
        right = client.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
        predicted = client.post(
            "/api/predict", files={"file": ("x.png", png_bytes, "image/png")}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        page = client.get("/")

    for refused in (missing, wrong, upload):
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert "This server needs an access token" in refused.json()["detail"]
    assert right.status_code == 200 and predicted.status_code == 200
    assert page.status_code == 200 and 'id="token"' in page.text

