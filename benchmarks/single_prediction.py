"""Single-image prediction latency: ``Predictor.predict(path)`` (decode, preprocessing, the network
and the out-of-distribution score) against the same work done through Keras' ``predict``, the path
before the direct call (``models/outputs.py``), in the same process on the same image, and batched
throughput of both; then the web API on a real uvicorn server in this process: ``POST
/api/predict?explain=false`` against ``POST /api/predict`` (with Grad-CAM and the two images, the
only answer it gave before). Uses the built-in model unless --model names another package.

Run from the project root:  python benchmarks/single_prediction.py [--model <package>] [--repeats 200]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import numpy as np

from pediatric_pneumonia.inference import load_predictor
from pediatric_pneumonia.webapp import create_app
from pediatric_pneumonia.webapp.app import serving_in_background


def timed(function, repeats: int) -> list[float]:
    function()  # warm-up: graph building, first-call allocations
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a package folder, strategy or URI; default: the built-in model")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--batch", type=int, default=512, help="images in the throughput measurement")
    arguments = parser.parse_args()
    predictor = load_predictor(arguments.model)
    rng = np.random.default_rng(0)
    image = cv2.resize(rng.integers(0, 256, (28, 28), dtype=np.uint8), (224, 224), interpolation=cv2.INTER_CUBIC)
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "xray.jpeg")
        cv2.imwrite(path, image)

        def through_keras_predict() -> float:
            stored = predictor.stored_image(path, path)[np.newaxis]
            predictor.probabilities_and_features(stored)  # builds the two-output model once
            raw, features = predictor._probabilities_and_features.predict(
                predictor.model_input(stored), batch_size=predictor.batch_size, verbose=0
            )
            predictor._scorer().scores(features.astype(np.float64))
            return float(predictor.calibrate(raw.reshape(-1))[0])

        assert abs(through_keras_predict() - predictor.predict(path).probability) < 1e-5
        before = timed(through_keras_predict, arguments.repeats)
        after = timed(lambda: predictor.predict(path), arguments.repeats)
    p50_before, p50_after = statistics.median(before) * 1000, statistics.median(after) * 1000
    print(f"{predictor.name}")
    print(f"one 224 px JPEG, p50 over {arguments.repeats}: through Keras predict {p50_before:.1f} ms, "
          f"Predictor.predict {p50_after:.1f} ms: {p50_before / p50_after:.2f}x faster")
    stored = np.repeat(predictor.stored_image(image, "array")[np.newaxis], arguments.batch, axis=0)
    batched = timed(lambda: predictor.probabilities_and_features(stored), 3)
    print(f"{arguments.batch} images batched: {arguments.batch / statistics.median(batched):.0f} images/s")
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    with serving_in_background(create_app(predictor)) as url, httpx.Client(base_url=url, timeout=60) as client:

        def post(query: str) -> None:
            response = client.post(f"/api/predict{query}", files={"file": ("xray.jpeg", jpeg, "image/jpeg")})
            response.raise_for_status()

        explained = timed(lambda: post(""), arguments.repeats)
        plain = timed(lambda: post("?explain=false"), arguments.repeats)
    p50_explained, p50_plain = statistics.median(explained) * 1000, statistics.median(plain) * 1000
    print(f"web API, one 224 px JPEG, p50 over {arguments.repeats}: with Grad-CAM {p50_explained:.1f} ms, "
          f"explain=false {p50_plain:.1f} ms: {p50_explained / p50_plain:.2f}x faster")


if __name__ == "__main__":
    main()
