"""End to end in a real headless Chromium: upload an X-ray through the page, read the answer and see
the Grad-CAM overlay; upload junk and read the error the page shows."""

import shutil

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium executable on PATH (Debian: apt-get install -y chromium)"
)
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def page(live_server):
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: Chromium refuses to start its sandbox as root (CI containers).
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.console_errors = []
        page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
        page.goto(live_server)
        page.wait_for_selector("body[data-ready=true]")
        yield page
        browser.close()


def test_an_uploaded_xray_shows_its_prediction_and_overlay_then_junk_shows_the_error(page, predictor, jpeg_bytes):
    expected = predictor.predict(jpeg_bytes)
    assert "Research software: not a diagnostic device" in page.inner_text("#notice")

    page.set_input_files("#file-input", files=[{"name": "chest.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes}])
    page.wait_for_selector("#result:not([hidden])")

    assert page.inner_text("#result-label") == expected.label
    assert float(page.inner_text("#result-probability")) == pytest.approx(expected.probability, abs=5e-4)
    assert float(page.inner_text("#result-threshold")) == pytest.approx(expected.threshold, abs=5e-4)
    assert page.inner_text("#result-source") == "chest.jpg"
    for image in ("#result-image", "#result-overlay"):
        # decode() resolves once the data: URL image has loaded (and rejects if it cannot be).
        assert page.locator(image).evaluate("async (img) => { await img.decode(); return img.naturalWidth; }") > 0

    page.set_input_files("#file-input", files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"meeting notes"}])
    page.wait_for_selector("#error:not([hidden])")

    assert page.inner_text("#error").startswith("'notes.jpg' is not a JPEG, PNG, BMP, TIFF or DICOM image")
    assert page.is_hidden("#result")
    unexpected = [error for error in page.console_errors if "status of 415" not in error]  # the junk's answer
    assert unexpected == [], "the page logged errors (a Content-Security-Policy violation?)"


def test_a_dropped_file_is_uploaded(page, predictor, png_bytes):
    expected = predictor.predict(png_bytes)
    dropped = page.evaluate_handle(
        """(bytes) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], "dropped.png", {type: "image/png"}));
            return transfer;
        }""",
        list(png_bytes),
    )

    page.dispatch_event("#dropzone", "drop", {"dataTransfer": dropped})
    # Explicit wait without page-side eval, which the page's Content-Security-Policy forbids.
    sync_api.expect(page.locator("#result-source")).to_have_text("dropped.png", timeout=WAIT_MS)

    assert page.is_visible("#result") and page.is_hidden("#error")
    assert float(page.inner_text("#result-probability")) == pytest.approx(expected.probability, abs=5e-4)
