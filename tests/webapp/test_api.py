"""The web app's API and page through FastAPI's TestClient: predictions match the Predictor, every
kind of bad upload gets its own 4xx with a message, and the server keeps working after each."""

import base64

import pytest
from fastapi.testclient import TestClient

from pediatric_pneumonia.imaging.decode import DecodeLimits
from pediatric_pneumonia.inference import Predictor
from pediatric_pneumonia.webapp import ServeLimits, create_app
from pediatric_pneumonia.webapp.upload import display_name
from tests.inference.test_three_class_package import three_class_predictor
from tests.webapp.conftest import chest_like_image, encode

SMALL_UPLOAD_LIMIT = 50_000


@pytest.fixture(scope="module")
def client(predictor):
    with TestClient(create_app(predictor, ServeLimits(max_upload_bytes=SMALL_UPLOAD_LIMIT)), base_url="http://127.0.0.1") as client:
        yield client


def post_file(client, content: bytes, filename: str = "xray.jpg", field: str = "file"):
    return client.post("/api/predict", files={field: (filename, content, "image/jpeg")})


def data_url_png(url: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    return base64.b64decode(url[len(prefix) :])


@pytest.mark.parametrize("image", ["jpeg_bytes", "png_bytes"])
def test_prediction_equals_the_predictor_on_the_same_bytes(client, predictor, image, request):
    content = request.getfixturevalue(image)
    expected = predictor.predict(content, source="xray")

    response = post_file(client, content)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] == expected.label
    assert body["probability"] == pytest.approx(expected.probability, abs=1e-6)
    assert body["threshold"] == pytest.approx(expected.threshold)
    assert body["classes"] == predictor.classes
    assert body["model"] == predictor.name
    for key in ("image", "overlay"):
        assert data_url_png(body[key]).startswith(b"\x89PNG\r\n\x1a\n")


def test_the_image_and_overlay_are_the_stored_image_and_its_grad_cam(client, predictor, jpeg_bytes):
    import cv2
    import numpy as np

    body = post_file(client, jpeg_bytes).json()
    image = cv2.imdecode(np.frombuffer(data_url_png(body["image"]), np.uint8), cv2.IMREAD_UNCHANGED)
    overlay = cv2.imdecode(np.frombuffer(data_url_png(body["overlay"]), np.uint8), cv2.IMREAD_UNCHANGED)

    np.testing.assert_array_equal(image, predictor.stored_image(jpeg_bytes, "xray"))
    assert overlay.shape == (*image.shape, 3)


BAD_UPLOADS = {
    "empty": (b"", 400, "empty"),
    "oversized": (b"\xff\xd8\xff" + bytes(SMALL_UPLOAD_LIMIT), 413, "larger than the limit"),
    "text named .jpg": (b"this is not an image, whatever its name says\n", 415, "not a JPEG"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=list(BAD_UPLOADS))
def test_a_bad_upload_is_refused_with_its_reason_and_the_next_good_one_succeeds(client, jpeg_bytes, case):
    content, status, message = BAD_UPLOADS[case]

    response = post_file(client, content)

    assert response.status_code == status
    assert message in response.json()["detail"]
    assert post_file(client, jpeg_bytes).status_code == 200


def test_a_truncated_jpeg_is_unprocessable(client, jpeg_bytes):
    response = post_file(client, jpeg_bytes[: len(jpeg_bytes) // 2])

    assert response.status_code == 422
    assert "truncated JPEG" in response.json()["detail"]
    assert post_file(client, jpeg_bytes).status_code == 200


def test_a_decompression_bomb_is_refused_from_its_header(client, jpeg_bytes, bomb_png):
    response = post_file(client, bomb_png, filename="bomb.png")

    assert response.status_code == 413
    assert "60000x60000" in response.json()["detail"]
    assert post_file(client, jpeg_bytes).status_code == 200


def test_the_pixel_limit_is_configurable(predictor, jpeg_bytes):
    with TestClient(create_app(predictor, ServeLimits(decode=DecodeLimits(max_pixels=1000))), base_url="http://127.0.0.1") as client:
        response = post_file(client, jpeg_bytes)

    assert response.status_code == 413
    assert "megapixels" in response.json()["detail"]


def test_a_declared_content_length_over_the_limit_is_refused_without_reading(client):
    response = client.post(
        "/api/predict",
        content=b"--x--\r\n",
        headers={"content-type": "multipart/form-data; boundary=x", "content-length": str(10 * SMALL_UPLOAD_LIMIT)},
    )

    assert response.status_code == 413


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": {"note": "no file"}, "files": {"other": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")}},
        {"json": {"file": "not multipart"}},
        {"content": b"garbage", "headers": {"content-type": "multipart/form-data; boundary=zzz"}},
    ],
    ids=["no file field", "json body", "malformed multipart"],
)
def test_a_request_without_a_file_gets_400(client, request_kwargs):
    response = client.post("/api/predict", **request_kwargs)

    assert response.status_code == 400
    assert response.json()["detail"]


def test_the_file_name_is_only_echoed_back_reduced_to_a_plain_name(client):
    response = post_file(client, b"plain text", filename="..\\..\\secret\\<img src=x onerror=alert(1)>.jpg")

    assert response.status_code == 415
    detail = response.json()["detail"]
    assert detail.startswith("'<img src=x onerror=alert(1)>.jpg' is not a JPEG")  # the page shows it as text
    assert "secret" not in detail


def test_display_names_drop_folders_and_control_characters_and_are_bounded():
    assert display_name("C:\\scans/a\x00b\x1b[31m.png") == "ab[31m.png"
    assert display_name(None) == display_name("  ") == "upload"
    assert len(display_name("x" * 1000)) == 120


def test_health_names_the_model(client, predictor):
    response = client.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model": predictor.name, "classes": predictor.classes, "caveats": []}


def test_openapi_documents_the_prediction_endpoint(client):
    schema = client.get("/openapi.json").json()
    predict = schema["paths"]["/api/predict"]["post"]

    assert "multipart/form-data" in predict["requestBody"]["content"]
    assert {"200", "400", "413", "415", "422"} <= set(predict["responses"])
    assert client.get("/docs").status_code == 200


def test_the_page_carries_the_notice_and_strict_security_headers(client):
    response = client.get("/")

    assert response.status_code == 200
    assert "Research software: not a diagnostic device" in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "img-src 'self' data:" in policy and "unsafe-inline" not in policy
    assert "<script>" not in response.text  # all script lives in /static/app.js


@pytest.mark.parametrize("name", ["app.js", "style.css"])
def test_the_static_files_are_served_from_the_package(client, name):
    response = client.get(f"/static/{name}")

    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_answer_carries_the_ood_score_and_a_warning_for_an_image_unlike_validation(predictor):
    import cv2
    import numpy as np

    from tests.inference.conftest import smooth_images, with_shift_reference

    referenced = with_shift_reference(predictor, smooth_images(60, seed=100))
    stripes = np.zeros((32, 32), np.uint8)  # the model's size: no resize blurs the stripes away
    stripes[::2] = 255
    with TestClient(create_app(referenced), base_url="http://localhost") as referenced_client:
        body = post_file(referenced_client, cv2.imencode(".png", stripes)[1].tobytes(), "stripes.png").json()

    assert body["ood_score"] == 100.0
    assert "looks unlike the images the model was validated on" in body["ood_warning"]


def test_a_model_without_shift_reference_answers_without_ood_score(client, jpeg_bytes):
    body = post_file(client, jpeg_bytes).json()

    assert body["ood_score"] is None and body["ood_warning"] is None


def test_a_foreign_host_header_is_refused_and_an_allowed_one_is_answered(predictor):
    """DNS rebinding: a page of evil.example that resolves to 127.0.0.1 sends Host: evil.example."""
    with TestClient(create_app(predictor), base_url="http://evil.example") as foreign:
        assert foreign.get("/api/health").status_code == 400
    with TestClient(create_app(predictor, allowed_hosts=["xray.clinic.example"]), base_url="http://xray.clinic.example") as named:
        assert named.get("/api/health").status_code == 200


def test_a_cross_origin_post_is_refused_and_a_same_origin_one_answered(client):
    image = encode(chest_like_image(1), ".png")
    refused = client.post("/api/predict", files={"file": ("x.png", image, "image/png")}, headers={"Origin": "http://evil.example"})
    same = client.post("/api/predict", files={"file": ("x.png", image, "image/png")}, headers={"Origin": "http://127.0.0.1"})

    assert refused.status_code == 403 and "Cross-origin request from http://evil.example refused" in refused.json()["detail"]
    assert same.status_code == 200


def test_answers_name_the_model_without_the_servers_paths(predictor, tmp_path):
    folder = tmp_path / "data/06_models/baseline/predictor/2026-12-06T10.00.00.000Z/predictor"
    predictor.save(folder)
    loaded = Predictor.from_package(folder)
    with TestClient(create_app(loaded), base_url="http://127.0.0.1") as served:
        health = served.get("/api/health").json()
        answer = post_file(served, encode(chest_like_image(2), ".png")).json()

    assert health["model"] == answer["model"] == "baseline 2026-12-06T10.00.00.000Z"
    assert str(tmp_path) not in str(health) + str(answer)


def test_without_explain_the_answer_is_the_same_prediction_without_the_images(client, png_bytes):
    explained = client.post("/api/predict", files={"file": ("x.png", png_bytes, "image/png")}).json()
    plain = client.post("/api/predict?explain=false", files={"file": ("x.png", png_bytes, "image/png")}).json()

    assert plain["image"] is None and plain["overlay"] is None
    assert explained["image"].startswith("data:image/png;base64,")
    assert {key: value for key, value in plain.items() if key not in ("image", "overlay")} == {
        key: value for key, value in explained.items() if key not in ("image", "overlay")
    }


def test_a_three_class_model_answers_each_class_probability_and_a_two_class_one_none(client, png_bytes):
    three = three_class_predictor()
    with TestClient(create_app(three), base_url="http://127.0.0.1") as three_client:
        answer = three_client.post("/api/predict?explain=false", files={"file": ("x.png", png_bytes, "image/png")}).json()
    binary = client.post("/api/predict?explain=false", files={"file": ("x.png", png_bytes, "image/png")}).json()

    assert set(answer["probabilities"]) == {"NORMAL", "BACTERIA", "VIRUS"} and answer["label"] in answer["probabilities"]
    assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)
    assert answer["probability"] == pytest.approx(1 - answer["probabilities"]["NORMAL"], abs=1e-6)
    assert binary["probabilities"] is None
