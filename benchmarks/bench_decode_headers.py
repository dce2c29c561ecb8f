"""Header-read time: the former hand-written JPEG SOF / PNG IHDR walk against Pillow's lazy read.

Makes a typical full-size (1600x1300) grayscale X-ray-like image, encodes it as JPEG and PNG, and
times in one process, per call (median of several repeats):

- hand walk: the marker/chunk walk ``imaging/decode.py`` used before it read headers with Pillow
  (kept here only for this comparison);
- Pillow: ``read_image_header``, i.e. content sniffing plus Pillow's image class reading the header;
- full decode: ``cv2.imdecode(..., IMREAD_GRAYSCALE)``, what the header read guards;

and prints each time and the Pillow header read as a share of a full decode.

Run from the project root:  python benchmarks/bench_decode_headers.py [--repeats 7]
"""

import argparse
import statistics
import timeit

import cv2
import numpy as np

from pediatric_pneumonia.imaging.decode import read_image_header

FULL_SIZE = (1600, 1300)  # width, height of a typical original Kermany et al. X-ray
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def hand_walked_jpeg_geometry(content: bytes) -> tuple[int, int, int]:
    """The former ``jpeg_geometry``: width, height and channels from the SOFn segment."""
    index = 2
    while index + 4 <= len(content):
        if content[index] != 0xFF:
            raise ValueError(f"corrupt JPEG marker at byte {index}")
        marker = content[index + 1]
        if marker == 0xFF:
            index += 1
            continue
        length = int.from_bytes(content[index + 2 : index + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and index + 10 <= len(content):
            height = int.from_bytes(content[index + 5 : index + 7], "big")
            width = int.from_bytes(content[index + 7 : index + 9], "big")
            return width, height, content[index + 9]
        index += 2 + length
    raise ValueError("no JPEG frame header")


def hand_walked_png_geometry(content: bytes) -> tuple[int, int, int]:
    """The former ``_png_geometry``: width, height and channels from the IHDR chunk."""
    if content[12:16] != b"IHDR" or len(content) < 26 or content[25] not in PNG_CHANNELS:
        raise ValueError("no valid PNG IHDR chunk")
    return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big"), PNG_CHANNELS[content[25]]


def xray_like_image() -> np.ndarray:
    """Smooth structure plus noise, so that the JPEG and PNG sizes resemble a real radiograph's."""
    rng = np.random.default_rng(0)
    smooth = cv2.resize(rng.random((13, 16)).astype(np.float32), FULL_SIZE, interpolation=cv2.INTER_CUBIC)
    noisy = cv2.normalize(smooth, None, 0, 220, cv2.NORM_MINMAX) + rng.normal(0, 3, smooth.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def seconds_per_call(function, content: bytes, repeats: int) -> float:
    timer = timeit.Timer(lambda: function(content))
    number, _ = timer.autorange()
    return statistics.median(timer.repeat(repeats, number)) / number


def full_decode(content: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_GRAYSCALE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    image = xray_like_image()
    files = {
        "JPEG": (cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes(), hand_walked_jpeg_geometry),
        "PNG": (cv2.imencode(".png", image)[1].tobytes(), hand_walked_png_geometry),
    }
    print(f"{FULL_SIZE[0]}x{FULL_SIZE[1]} grayscale, median of {repeats} repeats per call")
    print(f"{'file':<6}{'bytes':>10}{'hand walk':>12}{'Pillow':>12}{'full decode':>14}{'Pillow/decode':>15}")
    for name, (content, hand_walk) in files.items():
        assert hand_walk(content) == read_image_header(content) == (*FULL_SIZE, 1)
        hand, pillow, decode = (
            seconds_per_call(f, content, repeats) for f in (hand_walk, read_image_header, full_decode)
        )
        print(
            f"{name:<6}{len(content):>10,}{hand * 1e6:>10.1f}µs{pillow * 1e6:>10.1f}µs"
            f"{decode * 1e3:>12.2f}ms{pillow / decode:>14.2%}"
        )


if __name__ == "__main__":
    main()
