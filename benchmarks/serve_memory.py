"""Peak memory of the web app under concurrent worst-case uploads, unbounded against bounded.

Starts `pediatric-pneumonia serve --model builtin` twice on this machine, once as an unbounded
server did (every upload analysed at once, no decoded-size cap: --concurrent = the number of
uploads, --waiting 0, --max-decoded-mb huge) and once with the given limits (default: the serve
defaults), warms each with one small image, then sends UPLOADS simultaneous copies of a small PNG
that decodes to a large array (16-bit RGBA, WIDTH x HEIGHT) and reads the server's peak resident
memory (VmHWM, Linux) before and after the burst. Printed per server: the answers (status codes),
the peak memory the burst added, the slowest answer; then the ratio of the added peaks.

Run from anywhere (the built-in model needs no project):
  python benchmarks/serve_memory.py [--uploads 16] [--width 3500 --height 3500]
      [--concurrent 2 --waiting 8 --max-decoded-mb 100]
"""

import argparse
import collections
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np


def deep_png(width: int, height: int) -> bytes:
    """A PNG of WIDTH x HEIGHT 16-bit RGBA zeros: a few hundred KB that decode to 8 bytes a pixel."""
    encoded, data = cv2.imencode(".png", np.zeros((height, width, 4), np.uint16), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert encoded
    return data.tobytes()


def small_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    return cv2.imencode(".jpg", rng.integers(0, 255, (256, 256), dtype=np.uint8))[1].tobytes()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("VmHWM not found: this benchmark needs Linux's /proc.")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(options: list[str], image: bytes, uploads: int) -> dict:
    """Serve with ``options``, warm up, send ``uploads`` copies of ``image`` at once; the figures."""
    port = free_port()
    command = ["pediatric-pneumonia", "serve", "--model", "builtin", "--port", str(port), *options]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The server did not start: {' '.join(command)}")
            time.sleep(0.5)
        httpx.post(f"{url}/api/predict", files={"file": ("warm.jpeg", small_jpeg(), "image/jpeg")}, timeout=60)
        before = peak_rss_mb(server.pid)

        def send(_: int) -> tuple[int, float]:
            started = time.perf_counter()
            response = httpx.post(f"{url}/api/predict", files={"file": ("deep.png", image, "image/png")}, timeout=600)
            return response.status_code, time.perf_counter() - started

        with ThreadPoolExecutor(max_workers=uploads) as pool:
            answers = list(pool.map(send, range(uploads)))
        return {
            "statuses": dict(sorted(collections.Counter(status for status, _ in answers).items())),
            "baseline_mb": before,
            "added_mb": peak_rss_mb(server.pid) - before,
            "slowest_s": max(seconds for _, seconds in answers),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=16)
    parser.add_argument("--width", type=int, default=3500)
    parser.add_argument("--height", type=int, default=3500)
    parser.add_argument("--concurrent", type=int, default=2)
    parser.add_argument("--waiting", type=int, default=8)
    parser.add_argument("--max-decoded-mb", type=float, default=100.0)
    arguments = parser.parse_args()
    if not Path("/proc/self/status").exists():
        sys.exit("This benchmark reads /proc (Linux).")

    image = deep_png(arguments.width, arguments.height)
    decoded_mb = arguments.width * arguments.height * 8 / 1e6
    print(
        f"{arguments.uploads} simultaneous uploads of a {len(image) / 1e3:.0f} KB PNG, {arguments.width}x{arguments.height} "
        f"16-bit RGBA ({decoded_mb:.0f} MB decoded); {os.cpu_count()} CPU cores."
    )
    runs = {
        "unbounded": ["--concurrent", str(arguments.uploads), "--waiting", "0", "--max-decoded-mb", "1000000"],
        "bounded": [
            "--concurrent", str(arguments.concurrent), "--waiting", str(arguments.waiting),
            "--max-decoded-mb", str(arguments.max_decoded_mb),
        ],
    }
    results = {}
    for name, options in runs.items():
        results[name] = measure(options, image, arguments.uploads)
        figures = results[name]
        print(
            f"{name:>9} ({' '.join(options)}): answers {figures['statuses']}, peak memory {figures['baseline_mb']:.0f} MB "
            f"at rest + {figures['added_mb']:.0f} MB under the burst, slowest answer {figures['slowest_s']:.1f} s"
        )
    ratio = results["unbounded"]["added_mb"] / max(results["bounded"]["added_mb"], 1.0)
    print(f"Peak memory added by the burst, unbounded / bounded: {ratio:.1f}x")


if __name__ == "__main__":
    main()
