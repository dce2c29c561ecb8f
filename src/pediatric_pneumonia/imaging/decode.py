"""Everything that knows image file formats: recognising them from their bytes, reading their size
without decoding, finding truncated files, and decoding any supported file to 2-D uint8 grayscale.

The training pipelines and any prediction path (Predictor, CLI, web app) decode through
``decode_grayscale_image``, so a file gives the same pixels wherever it comes from.
"""

import io
from typing import NamedTuple

import cv2
import numpy as np
import pydicom
import pydicom.pixels
from PIL import BmpImagePlugin, Image, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

IMAGE_FORMATS = ("jpeg", "png", "bmp", "tiff", "dicom")
FORMAT_NAMES = {"jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "tiff": "TIFF", "dicom": "DICOM"}

# A 43 x 43 cm flat-panel detector at 0.1 mm pixels gives about 4300 x 4300 = 18.5 megapixels, the
# largest plain radiograph in common use (the public pneumonia images are at most ~8 megapixels).
# 50 megapixels leaves room for film scans while bounding one decoded 16-bit image at 100 MB
# (400 MB as float64 for the DICOM LUTs), so a small crafted file cannot exhaust memory.
DEFAULT_MAX_PIXELS = 50_000_000
# The decoded array's size is what memory pays, and a few hundred KB of PNG can announce 7000 x 7000
# 16-bit RGBA (392 MB decoded, over 1 GB while converted to gray). 100 MB holds a 50-megapixel
# 16-bit grayscale scan, or a 4300 x 4300 detector image with room to spare; files that decode
# straight to 8-bit gray (JPEG, 8-bit PNG) count one byte per pixel.
DEFAULT_MAX_DECODED_BYTES = 100_000_000



class DecodeLimits(NamedTuple):
    """What one decode may cost: pixels announced by the header, and bytes of the decoded array."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES


DEFAULT_DECODE_LIMITS = DecodeLimits()
JPEG_MAGIC = b"\xff\xd8\xff"
JPEG_END = b"\xff\xd9"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
DICOM_MAGIC_OFFSET = 128

# Pillow's image classes read only the header when constructed. Called directly, not through
# Image.open, they skip Pillow's own decompression-bomb check (a warning above 89 megapixels, its own
# error above 179, whatever max_pixels says): the pixel limit is decode_grayscale_image's.
PILLOW_HEADER_READERS = {
    "jpeg": JpegImagePlugin.JpegImageFile,
    "png": PngImagePlugin.PngImageFile,
    "bmp": BmpImagePlugin.BmpImageFile,
    "tiff": TiffImagePlugin.TiffImageFile,
}

# libjpeg decodes directly at 1/8, 1/4 or 1/2 scale, far faster than a full decode and resize.
REDUCED_GRAYSCALE_FLAGS = (
    (8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
    (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
    (2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
)


class ImageDecodeError(ValueError):
    """A file could not be decoded as an image."""


class UnsupportedImageError(ImageDecodeError):
    """Not an image of a supported format, or a DICOM transfer syntax with no installed decoder."""


class ImageTooLargeError(ImageDecodeError):
    """The header announces more pixels than allowed (a decompression bomb or an unusable scan)."""


def _format_list(formats: tuple[str, ...]) -> str:
    names = [FORMAT_NAMES[name] for name in formats]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _format_of(content: bytes) -> str | None:
    if content.startswith(JPEG_MAGIC):
        return "jpeg"
    if content.startswith(PNG_MAGIC):
        return "png"
    if content.startswith(b"BM"):
        return "bmp"
    if content.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if content[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == b"DICM":
        return "dicom"
    return None


def sniff_image_format(content: bytes) -> str:
    """The format of ``content``, one of ``IMAGE_FORMATS``, from its magic bytes (never a file name).

    Raises:
        UnsupportedImageError: for empty content or any other format.
    """
    image_format = _format_of(content)
    if image_format is None:
        found = "an empty file" if not content else f"content starting with {bytes(content[:8])!r}"
        raise UnsupportedImageError(f"not a {_format_list(IMAGE_FORMATS)} image (found {found})")
    return image_format


def find_file_problem(content: bytes, formats: tuple[str, ...] = IMAGE_FORMATS) -> str | None:
    """Say why ``content`` is not a whole image of one of ``formats``, or return None.

    OpenCV decodes a truncated JPEG without error (it returns a partly gray image), so the
    end-of-image markers of JPEG and PNG are checked explicitly.
    """
    if not content:
        return "empty file"
    image_format = _format_of(content)
    if image_format not in formats:
        return f"not a {_format_list(formats)} image"
    if image_format == "jpeg" and not content.rstrip(b"\x00\r\n ").endswith(JPEG_END):
        return "truncated JPEG (no end-of-image marker)"
    if image_format == "png" and not content.rstrip(b"\x00\r\n ").endswith(PNG_END):
        return "truncated PNG (no IEND chunk)"
    return None


class ImageHeader(NamedTuple):
    """What a file's header says, read without decoding its pixels."""

    width: int
    height: int
    channels: int
    gray_decodable: bool  # OpenCV's direct 8-bit grayscale decode keeps all it holds (JPEG, PNG up to 8 bits)
    sample_bytes: int = 1  # bytes per channel of the decoded array (2 for 16-bit data)

    @property
    def decoded_bytes(self) -> int:
        """The size of the array the file decodes to: one byte per pixel when it decodes straight
        to 8-bit gray, else every channel at its bit depth."""
        per_pixel = 1 if self.gray_decodable else self.channels * self.sample_bytes
        return self.width * self.height * per_pixel


def _pillow_header(content: bytes, image_format: str) -> ImageHeader:
    try:
        with PILLOW_HEADER_READERS[image_format](io.BytesIO(content)) as image:
            if image_format != "png":
                # A palette decodes to colour (OpenCV); TIFF says its bits per sample (tag 258).
                channels = 3 if image.mode == "P" else len(image.getbands())
                bits = image.tag_v2.get(258, (8,)) if image_format == "tiff" else (8,)
                sample_bytes = -(-max(bits if isinstance(bits, tuple) else (bits,)) // 8)
                return ImageHeader(image.width, image.height, channels, image_format == "jpeg", sample_bytes)
            if not image.tile:
                raise ValueError("no image data (IDAT) before IEND")
            # The raw mode is what the file stores ("LA;16B": 16-bit gray + alpha), the mode what
            # Pillow would decode it to ("RGBA").
            stored_mode, _, depth = image.tile[0].args.partition(";")
            sixteen_bit = depth == "16B"
            return ImageHeader(image.width, image.height, Image.getmodebands(stored_mode), not sixteen_bit, 2 if sixteen_bit else 1)
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's "not identified by this driver" is a SyntaxError
        raise ValueError(str(error)) from error


def _dicom_header(content: bytes) -> ImageHeader:
    try:
        dataset = pydicom.dcmread(io.BytesIO(content), stop_before_pixels=True)
        sample_bytes = -(-int(dataset.get("BitsAllocated", 8)) // 8)
        return ImageHeader(int(dataset.Columns), int(dataset.Rows), int(dataset.get("SamplesPerPixel", 1)), False, sample_bytes)
    except AttributeError as error:
        raise UnsupportedImageError(
            "the DICOM file holds no image (no Rows/Columns; e.g. a report or a presentation state). "
            "Send the image series itself."
        ) from error
    except Exception as error:  # pydicom raises many types for malformed files
        raise ValueError(f"unreadable DICOM: {error}") from error


def _read_header(content: bytes) -> ImageHeader:
    image_format = sniff_image_format(content)
    try:
        header = _dicom_header(content) if image_format == "dicom" else _pillow_header(content, image_format)
    except ImageDecodeError:
        raise
    except ValueError as error:
        raise ImageDecodeError(f"unreadable image header ({error})") from error
    if not header.width or not header.height or not header.channels:
        raise ImageDecodeError(
            f"unreadable image header (size {header.width}x{header.height}, {header.channels} channels)"
        )
    return header


def read_image_header(content: bytes) -> tuple[int, int, int]:
    """Width, height and channels of any supported image, read from its header without decoding.

    Raises:
        UnsupportedImageError: when ``content`` is not a supported image.
        ImageDecodeError: when the header cannot be read (message starts "unreadable image header").
    """
    header = _read_header(content)
    return header.width, header.height, header.channels


def reduced_decode_flag(width: int, height: int, image_size: int) -> int:
    """The cheapest OpenCV grayscale decode whose output is still at least ``image_size``."""
    for factor, flag in REDUCED_GRAYSCALE_FLAGS:
        if min(width, height) // factor >= image_size:
            return flag
    return cv2.IMREAD_GRAYSCALE


def to_grayscale_uint8(pixels: np.ndarray, channel_order: str = "BGR") -> np.ndarray:
    """Any decoded array (H, W) or (H, W, C) to 2-D uint8 gray: alpha dropped, colour converted with
    OpenCV's weights, data deeper than 8 bits min-max scaled to 0-255.

    X-rays are often 10-14-bit values stored in 16-bit containers (a 12-bit image never goes above
    4095), so dividing by 257 would leave them nearly black: each image's own range is stretched
    to 0-255 instead.
    """
    if pixels.ndim == 3:
        channels = pixels.shape[2]
        if channels in (3, 4):
            code = {"BGR": cv2.COLOR_BGR2GRAY, "RGB": cv2.COLOR_RGB2GRAY}[channel_order]
            colour = pixels[..., :3]
            if colour.dtype not in (np.uint8, np.uint16, np.float32):
                colour = colour.astype(np.float32)
            pixels = cv2.cvtColor(np.ascontiguousarray(colour), code)
        else:  # gray (+ alpha)
            pixels = pixels[..., 0]
    if pixels.dtype == np.uint8:
        return pixels
    low, high = float(pixels.min()), float(pixels.max())
    # In place on one float32 copy (exact for 16-bit integers): a second and third full-size
    # temporary would multiply the memory a large image needs.
    scaled = pixels.astype(np.float32)
    scaled -= low
    scaled *= 255.0 / max(high - low, float(np.finfo(np.float32).tiny))
    np.clip(scaled, 0, 255, out=scaled)
    return np.rint(scaled, out=scaled).astype(np.uint8)


def _decode_with_opencv(content: bytes, flag: int, source: str) -> np.ndarray:
    buffer = np.frombuffer(content, dtype=np.uint8)
    try:
        image = cv2.imdecode(buffer, flag)
    except cv2.error as error:
        raise ImageDecodeError(f"OpenCV could not decode '{source}': {error}. Replace the file.") from error
    if image is None:
        raise ImageDecodeError(
            f"OpenCV could not decode '{source}' as an image. Remove or replace the file and run again."
        )
    return image


def _decode_dicom(content: bytes, source: str) -> np.ndarray:
    """First frame of a DICOM file in display values: modality LUT (e.g. Hounsfield/rescale), then
    the VOI LUT or window the file carries, MONOCHROME1 inverted so that dense tissue is bright."""
    try:
        dataset = pydicom.dcmread(io.BytesIO(content))
    except Exception as error:  # pydicom raises many types for malformed files
        raise ImageDecodeError(f"'{source}' is not a readable DICOM file ({error}). Replace the file.") from error
    if "PixelData" not in dataset:
        raise UnsupportedImageError(
            f"'{source}' is a DICOM file without an image (no Pixel Data; e.g. a report or a "
            "presentation state). Send the image series itself."
        )
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    syntax_name = getattr(syntax, "name", str(syntax))
    try:
        decoder = pydicom.pixels.get_decoder(syntax)
    except NotImplementedError as error:
        raise UnsupportedImageError(
            f"'{source}' uses the DICOM transfer syntax '{syntax_name}', which pydicom cannot decode. "
            "Export the image uncompressed (Explicit VR Little Endian) or as PNG."
        ) from error
    if not decoder.is_available:
        raise UnsupportedImageError(
            f"'{source}' is compressed with the DICOM transfer syntax '{syntax_name}' and no decoder for it "
            f"is installed. Install one of: {'; '.join(decoder.missing_dependencies)}; or export the "
            "image uncompressed (Explicit VR Little Endian) or as PNG."
        )
    try:
        pixels = pydicom.pixels.pixel_array(dataset, index=0)  # first frame of a multi-frame file
        pixels = pydicom.pixels.apply_modality_lut(pixels, dataset)
        pixels = pydicom.pixels.apply_voi_lut(pixels, dataset, index=0)
    except Exception as error:  # decoder plugins raise many types
        hint = (
            f" A decoder from {'; '.join(decoder.missing_dependencies)} may handle it."
            if decoder.missing_dependencies
            else ""
        )
        raise ImageDecodeError(
            f"Could not decode the pixels of '{source}' (transfer syntax '{syntax_name}'): {error}.{hint} "
            "Otherwise export the image uncompressed or as PNG."
        ) from error
    if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
        pixels = -pixels.astype(np.float64)  # min-max scaling below maps the negation back to 0-255
    return to_grayscale_uint8(pixels.astype(np.float64) if pixels.ndim == 2 else pixels, channel_order="RGB")


def decode_grayscale_image(
    content: bytes,
    source: str,
    image_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> np.ndarray:
    """Decode a JPEG, PNG, BMP, TIFF or DICOM file to a 2-D uint8 grayscale array.

    The format comes from the bytes, never from ``source``, which only names the file in errors.
    JPEG and 8-bit PNG decode straight to gray with OpenCV, at 1/2, 1/4 or 1/8 scale when the
    result still has at least ``image_size`` pixels on its short side (the training pipeline's
    pixels); other files decode in full and go through ``to_grayscale_uint8``; DICOM as
    ``_decode_dicom`` says.

    Raises:
        UnsupportedImageError: not a supported image, or a DICOM compression with no decoder.
        ImageTooLargeError: the header announces more than ``max_pixels`` pixels, or an array of
            more than ``max_decoded_bytes`` (``ImageHeader.decoded_bytes``); it is not decoded.
        ImageDecodeError: a truncated or corrupt file.
    """
    try:
        image_format = sniff_image_format(content)
    except UnsupportedImageError as error:
        raise UnsupportedImageError(f"'{source}' is {error}. Send or convert it to one of these formats.") from error
    problem = find_file_problem(content)
    if problem is not None:
        raise ImageDecodeError(f"'{source}' is a {problem}. Replace the file with a complete copy.")
    try:
        header = _read_header(content)
    except (UnsupportedImageError, ImageTooLargeError) as error:
        raise type(error)(f"'{source}': {error}") from error
    except ImageDecodeError as error:
        raise type(error)(f"'{source}': {error}. Replace the file with a complete copy.") from error
    width, height = header.width, header.height
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"'{source}' claims {width}x{height} pixels ({width * height / 1e6:,.0f} megapixels), more than the "
            f"limit of {max_pixels / 1e6:g} megapixels; it was not decoded. Downscale the image, or raise "
            "max_pixels if it is a genuine scan."
        )
    if header.decoded_bytes > max_decoded_bytes:
        raise ImageTooLargeError(
            f"'{source}' would decode to {width}x{height} pixels x {header.channels} channels x "
            f"{8 * header.sample_bytes} bits = {header.decoded_bytes / 1e6:,.0f} MB, more than the limit of "
            f"{max_decoded_bytes / 1e6:g} MB; it was not decoded. Send it as 8-bit grayscale (or smaller), or raise "
            "max_decoded_bytes if it is a genuine scan."
        )
    if image_format == "dicom":
        return _decode_dicom(content, source)
    if header.gray_decodable:
        flag = cv2.IMREAD_GRAYSCALE if image_size is None else reduced_decode_flag(width, height, image_size)
        return _decode_with_opencv(content, flag, source)
    return to_grayscale_uint8(_decode_with_opencv(content, cv2.IMREAD_UNCHANGED, source))
