import io
import struct
import zlib

import cv2
import numpy as np
import pydicom
import pydicom.pixels
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from pediatric_pneumonia.imaging.decode import (
    IMAGE_FORMATS,
    PNG_MAGIC,
    ImageDecodeError,
    ImageTooLargeError,
    UnsupportedImageError,
    decode_grayscale_image,
    find_file_problem,
    read_image_header,
    sniff_image_format,
)
from pediatric_pneumonia.imaging.preprocess import ImageDecodeError as PreprocessImageDecodeError
from pediatric_pneumonia.imaging.preprocess import load_grayscale_image, stored_image

PREPROCESSING = {"image_size": 32, "geometry": "stretch", "border_crop": 0.0}


def gray_image(height: int = 40, width: int = 56) -> np.ndarray:
    """A smooth uint8 image spanning the full 0-255 range, so that min-max scaling leaves it unchanged."""
    rng = np.random.default_rng(0)
    smooth = cv2.resize(rng.random((5, 7)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return cv2.normalize(smooth, None, 0, 255, cv2.NORM_MINMAX).round().astype(np.uint8)


GRAY = gray_image()


def encoded(extension: str, image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(extension, image)
    assert ok
    return buffer.tobytes()


def pillow_encoded(image: Image.Image, format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def dicom_bytes(pixels: np.ndarray, photometric: str = "MONOCHROME2", **elements) -> bytes:
    """A minimal single-frame secondary-capture DICOM file holding ``pixels`` (uint8 or uint16)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "OT"
    dataset.Rows, dataset.Columns = pixels.shape[:2]
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = photometric
    dataset.BitsAllocated = dataset.BitsStored = pixels.dtype.itemsize * 8
    dataset.HighBit = dataset.BitsStored - 1
    dataset.PixelRepresentation = 0
    dataset.PixelData = pixels.tobytes()
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    return save_dicom(dataset)


def save_dicom(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def windowed_dicom() -> bytes:
    """16-bit MONOCHROME2 whose rescale and window map GRAY's values linearly onto the display range;
    two patches outside the window must come out clipped to black and white."""
    stored = GRAY.astype(np.uint16) * 4 + 2024  # rescale intercept -1024 -> 1000 .. 2020
    stored[:4, :4] = 4000  # far above the window: white
    stored[-4:, -4:] = 10  # far below the window: black
    return dicom_bytes(
        stored,
        RescaleIntercept=-1024,
        RescaleSlope=1,
        WindowCenter=1510.5,  # lowest edge 1000, width 1021: the window spans exactly 1000 .. 2020
        WindowWidth=1021,
    )


def windowed_expectation() -> np.ndarray:
    expected = GRAY.copy()
    expected[:4, :4], expected[-4:, -4:] = 255, 0
    return expected


def rle_dicom() -> bytes:
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes(GRAY.astype(np.uint16) * 16)))  # 12-bit values
    dataset.compress(RLELossless)
    return save_dicom(dataset)


def jpeg_dicom() -> bytes:
    """JPEG baseline inside DICOM: pydicom has no encoder for it, so the JPEG stream is wrapped by hand."""
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes(GRAY)))
    dataset.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    dataset.PixelData = encapsulate([encoded(".jpg", GRAY)])
    dataset["PixelData"].VR = "OB"
    return save_dicom(dataset)


def png_16bit_rgb() -> bytes:
    colour = np.repeat(GRAY[..., np.newaxis], 3, axis=2).astype(np.uint16) * 16  # 12 bits in 16
    return encoded(".png", colour)


def png_rgba() -> bytes:
    bgra = np.dstack([GRAY, GRAY, GRAY, np.full_like(GRAY, 128)])
    return encoded(".png", bgra)


ROUND_TRIPS = {
    "jpeg": (lambda: encoded(".jpg", GRAY), 3),
    "png_gray_8bit": (lambda: encoded(".png", GRAY), 0),
    "png_gray_16bit": (lambda: encoded(".png", GRAY.astype(np.uint16) * 257), 0),
    "png_gray_12bit_in_16": (lambda: encoded(".png", GRAY.astype(np.uint16) * 16), 0),
    "png_rgb_16bit": (png_16bit_rgb, 1),
    "png_rgb": (lambda: encoded(".png", cv2.cvtColor(GRAY, cv2.COLOR_GRAY2BGR)), 0),
    "png_rgba": (png_rgba, 0),
    "bmp": (lambda: encoded(".bmp", GRAY), 0),
    "bmp_colour": (lambda: pillow_encoded(Image.fromarray(GRAY).convert("RGB"), "BMP"), 0),
    "tiff_8bit": (lambda: pillow_encoded(Image.fromarray(GRAY), "TIFF"), 0),
    "tiff_16bit": (lambda: encoded(".tiff", GRAY.astype(np.uint16) * 16), 0),
    "dicom_monochrome2_8bit": (lambda: dicom_bytes(GRAY), 0),
    "dicom_monochrome1_16bit": (lambda: dicom_bytes((255 - GRAY.astype(np.uint16)) * 16, "MONOCHROME1"), 0),
    "dicom_rle_lossless": (rle_dicom, 0),
    "dicom_jpeg_baseline": (jpeg_dicom, 4),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_every_format_decodes_to_the_same_gray_image(name):
    make, tolerance = ROUND_TRIPS[name]
    decoded = decode_grayscale_image(make(), f"{name}.file")
    assert decoded.shape == GRAY.shape and decoded.dtype == np.uint8
    largest_difference = np.abs(decoded.astype(int) - GRAY.astype(int)).max()
    assert largest_difference <= tolerance, largest_difference


def test_dicom_rescale_and_window_are_applied_before_scaling():
    decoded = decode_grayscale_image(windowed_dicom(), "windowed.dcm")
    assert np.abs(decoded.astype(int) - windowed_expectation().astype(int)).max() <= 1


def test_multi_frame_dicom_gives_its_first_frame():
    frames = np.stack([GRAY, 255 - GRAY])
    content = dicom_bytes(frames.reshape(-1, GRAY.shape[1]), NumberOfFrames=2)
    dataset = pydicom.dcmread(io.BytesIO(content))
    dataset.Rows = GRAY.shape[0]
    assert np.array_equal(decode_grayscale_image(save_dicom(dataset), "cine.dcm"), GRAY)


def test_dicom_compressed_without_an_installed_decoder_names_the_syntax():
    if pydicom.pixels.get_decoder(JPEGLSLossless).is_available:
        pytest.skip("a JPEG-LS decoder is installed here")
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes(GRAY)))
    dataset.file_meta.TransferSyntaxUID = JPEGLSLossless
    dataset.PixelData = encapsulate([b"\xff\xd8\xff\xf7" + bytes(32) + b"\xff\xd9"])
    dataset["PixelData"].VR = "OB"
    with pytest.raises(UnsupportedImageError, match="JPEG-LS Lossless") as error:
        decode_grayscale_image(save_dicom(dataset), "compressed.dcm")
    assert "compressed.dcm" in str(error.value)
    assert "pylibjpeg" in str(error.value)  # the package to install


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: encoded(".jpg", GRAY), "jpeg"),
        (lambda: encoded(".png", GRAY), "png"),
        (lambda: encoded(".bmp", GRAY), "bmp"),
        (lambda: pillow_encoded(Image.fromarray(GRAY), "TIFF"), "tiff"),
        (lambda: encoded(".tiff", GRAY.astype(np.uint16)), "tiff"),
        (lambda: dicom_bytes(GRAY), "dicom"),
    ],
)
def test_format_comes_from_the_bytes_not_the_file_name(make, expected, tmp_path):
    content = make()
    assert sniff_image_format(content) == expected
    misnamed = tmp_path / "scan.jpeg"  # whatever the extension says
    misnamed.write_bytes(content)
    assert load_grayscale_image(str(misnamed), PREPROCESSING).shape == (32, 32)


def test_header_reads_size_and_channels_of_every_format():
    colour = cv2.cvtColor(GRAY, cv2.COLOR_GRAY2BGR)
    assert read_image_header(encoded(".bmp", colour)) == (56, 40, 3)
    assert read_image_header(encoded(".tiff", GRAY.astype(np.uint16))) == (56, 40, 1)
    assert read_image_header(dicom_bytes(GRAY)) == (56, 40, 1)
    assert read_image_header(encoded(".png", np.dstack([colour, GRAY]))) == (56, 40, 4)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_16bit_gray_alpha(width: int = 3, height: int = 2) -> bytes:
    """A 16-bit gray + alpha PNG (colour type 4), which neither OpenCV nor Pillow writes."""
    rows = b"".join(b"\x00" + bytes(4 * width) for _ in range(height))  # filter byte + 2 x 16-bit samples
    header = struct.pack(">IIBBBBB", width, height, 16, 4, 0, 0, 0)
    return PNG_MAGIC + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


def test_png_header_gives_the_channels_the_file_stores():
    assert read_image_header(png_16bit_gray_alpha()) == (3, 2, 2)  # Pillow would decode it to RGBA
    assert read_image_header(pillow_encoded(Image.fromarray(GRAY).convert("P"), "PNG")) == (56, 40, 1)
    assert read_image_header(pillow_encoded(Image.fromarray(GRAY).convert("1"), "PNG")) == (56, 40, 1)


JPEG = encoded(".jpg", GRAY)
PNG = encoded(".png", GRAY)


def jpeg_with_precision(bits: int) -> bytearray:
    """GRAY as a JPEG whose frame header (SOF0) says ``bits`` bits per sample."""
    jpeg = bytearray(JPEG)
    jpeg[jpeg.index(b"\xff\xc0") + 4] = bits
    return jpeg


def png_with_ihdr(colour_type: int = 0, checksum: bytes | None = None) -> bytes:
    """PNG with its IHDR's colour type set and its checksum recomputed, or replaced by ``checksum``."""
    png = bytearray(PNG)
    png[25] = colour_type
    png[29:33] = checksum or zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")
    return bytes(png)


@pytest.mark.parametrize(
    ("content", "error", "says"),
    [
        (b"", UnsupportedImageError, "empty file"),
        (b"radiologist notes, not an image\n", UnsupportedImageError, "JPEG, PNG, BMP, TIFF or DICOM"),
        (b"GIF89a" + bytes(20), UnsupportedImageError, "JPEG, PNG, BMP, TIFF or DICOM"),
        (JPEG[: len(JPEG) // 2], ImageDecodeError, "truncated JPEG"),
        (PNG[:-20], ImageDecodeError, "truncated PNG"),
        (b"BM" + bytes(60), ImageDecodeError, "unreadable image header"),
        (b"\xff\xd8\xff\xd9", ImageDecodeError, "unreadable image header"),
        (bytes(jpeg_with_precision(12)), ImageDecodeError, r"unreadable image header \(cannot handle 12-bit"),
        (png_with_ihdr(colour_type=5), ImageDecodeError, "unreadable image header"),
        (png_with_ihdr(checksum=b"\x00" * 4), ImageDecodeError, "unreadable image header.*checksum"),
        (bytes(128) + b"DICM" + bytes(40), UnsupportedImageError, "DICOM file holds no image"),
    ],
    ids=[
        "empty",
        "text",
        "gif",
        "truncated_jpeg",
        "truncated_png",
        "broken_bmp",
        "jpeg_without_frame_header",
        "jpeg_12_bit",
        "png_unknown_colour_type",
        "png_bad_header_checksum",
        "dicom_without_image",
    ],
)
def test_unusable_content_is_refused_naming_the_file(content, error, says):
    with pytest.raises(error, match=says) as raised:
        decode_grayscale_image(content, "uploads/patient 7.img")
    assert "uploads/patient 7.img" in str(raised.value)
    assert isinstance(raised.value, PreprocessImageDecodeError)  # the old import still catches it


def test_find_file_problem_names_the_formats_accepted():
    assert find_file_problem(PNG) is None
    assert find_file_problem(b"") == "empty file"
    assert find_file_problem(encoded(".bmp", GRAY)) is None
    assert find_file_problem(encoded(".bmp", GRAY), ("jpeg", "png")) == "not a JPEG or PNG image"
    assert find_file_problem(b"GIF89a") == f"not a {', '.join(f.upper() for f in IMAGE_FORMATS[:-1])} or DICOM image"


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose IHDR (with a valid CRC) announces ``width`` x ``height`` pixels."""
    png = bytearray(encoded(".png", np.zeros((1, 1), np.uint8)))
    png[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")  # CRC over chunk type + data
    return bytes(png)


def test_decompression_bomb_is_refused_from_its_header():
    with pytest.raises(ImageTooLargeError, match=r"bomb\.png.*100000x100000"):
        decode_grayscale_image(png_claiming(100_000, 100_000), "bomb.png")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A 1x1 JPEG whose frame header (SOF0) announces ``width`` x ``height`` pixels."""
    jpeg = bytearray(encoded(".jpg", np.zeros((1, 1), np.uint8)))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(jpeg)


def bmp_claiming(width: int, height: int) -> bytes:
    """A 1x1 BMP whose info header announces ``width`` x ``height`` pixels."""
    bmp = bytearray(encoded(".bmp", np.zeros((1, 1), np.uint8)))
    bmp[18:26] = width.to_bytes(4, "little") + height.to_bytes(4, "little")
    return bytes(bmp)


def tiff_claiming(width: int, height: int) -> bytes:
    """A 1x1 TIFF whose ImageWidth and ImageLength tags announce ``width`` x ``height`` pixels."""
    tiff = bytearray(pillow_encoded(Image.fromarray(np.zeros((1, 1), np.uint8)), "TIFF"))
    assert tiff[10:14] == b"\x00\x01\x04\x00" and tiff[22:26] == b"\x01\x01\x04\x00"  # tags 256, 257 as LONG
    tiff[18:22], tiff[30:34] = width.to_bytes(4, "little"), height.to_bytes(4, "little")
    return bytes(tiff)


CLAIMING = {"png": png_claiming, "jpeg": jpeg_claiming, "bmp": bmp_claiming, "tiff": tiff_claiming}


@pytest.mark.filterwarnings("error")  # Pillow's DecompressionBombWarning included
@pytest.mark.parametrize("image_format", sorted(CLAIMING))
def test_header_above_the_pixel_limit_is_refused_with_our_message_not_pillows(image_format):
    # 60000 x 60000 is above Pillow's own bomb limits (a warning above 89, an error above 179 megapixels).
    with pytest.raises(ImageTooLargeError, match=r"bomb\.img' claims 60000x60000 .* limit of 50 megapixels"):
        decode_grayscale_image(CLAIMING[image_format](60_000, 60_000), "bomb.img")
    with pytest.raises(ImageTooLargeError, match="limit of 300 megapixels; it was not decoded"):
        decode_grayscale_image(CLAIMING[image_format](20_000, 20_000), "bomb.img", max_pixels=300_000_000)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("image_format", sorted(CLAIMING))
def test_header_read_ignores_pillows_bomb_limit(image_format):
    """Only max_pixels decides: a header above Pillow's 179-megapixel error still reads."""
    assert read_image_header(CLAIMING[image_format](20_000, 10_000)) == (20_000, 10_000, 1)


@pytest.mark.parametrize("extension", [".png", ".tiff", ".bmp", ".jpg"])
def test_real_image_above_the_pixel_limit_is_refused(extension):
    large = encoded(extension, np.zeros((1200, 1000), np.uint8))
    with pytest.raises(ImageTooLargeError, match="1000x1200"):
        decode_grayscale_image(large, f"large{extension}", max_pixels=1_000_000)
    assert decode_grayscale_image(large, f"large{extension}", max_pixels=1_200_000).shape == (1200, 1000)


def test_large_dicom_is_refused_before_decoding():
    with pytest.raises(ImageTooLargeError, match="large.dcm"):
        decode_grayscale_image(dicom_bytes(np.zeros((400, 300), np.uint8)), "large.dcm", max_pixels=100_000)


def test_stored_image_is_what_the_pipeline_stores(tmp_path):
    large = cv2.resize(GRAY, (700, 500), interpolation=cv2.INTER_CUBIC)  # decoded at reduced size
    path = tmp_path / "person1_bacteria_1.jpeg"
    cv2.imwrite(str(path), large)
    preprocessing = {"image_size": 64, "geometry": "pad", "border_crop": 0.05}

    from_bytes = stored_image(path.read_bytes(), "upload.jpeg", preprocessing)

    assert from_bytes.shape == (64, 64) and from_bytes.dtype == np.uint8
    assert np.array_equal(from_bytes, load_grayscale_image(str(path), preprocessing))


def test_jpeg_pixels_are_decoded_as_before():
    """The training pipeline's pixels must not change: reduced-size OpenCV decode for JPEG."""
    large = encoded(".jpg", cv2.resize(GRAY, (700, 500), interpolation=cv2.INTER_CUBIC))
    reduced = cv2.imdecode(np.frombuffer(large, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    assert np.array_equal(decode_grayscale_image(large, "x.jpeg", image_size=120), reduced)
    full = cv2.imdecode(np.frombuffer(large, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert np.array_equal(decode_grayscale_image(large, "x.jpeg"), full)


@pytest.mark.parametrize(
    ("pixels", "extension", "decoded_bytes"),
    [
        (np.zeros((100, 100), np.uint16), ".png", 20_000),  # 16-bit gray: two bytes a pixel
        (np.zeros((100, 100, 4), np.uint16), ".png", 80_000),  # 16-bit RGBA
        (np.zeros((100, 100, 3), np.uint8), ".bmp", 30_000),  # colour BMP decodes in full
        (np.zeros((100, 100), np.uint16), ".tiff", 20_000),
        (np.zeros((100, 100), np.uint16), ".dcm", 20_000),
    ],
)
def test_the_decoded_size_counts_channels_and_bit_depth_not_pixels(pixels, extension, decoded_bytes):
    content = dicom_bytes(pixels) if extension == ".dcm" else encoded(extension, pixels)
    with pytest.raises(ImageTooLargeError, match=rf"would decode to 100x100 pixels x .* = 0 MB, more than the limit of {(decoded_bytes - 1) / 1e6:g} MB"):
        decode_grayscale_image(content, f"deep{extension}", max_decoded_bytes=decoded_bytes - 1)
    assert decode_grayscale_image(content, f"deep{extension}", max_decoded_bytes=decoded_bytes).shape == (100, 100)


@pytest.mark.parametrize("extension", [".png", ".jpg"])
def test_files_that_decode_straight_to_8_bit_gray_count_one_byte_a_pixel(extension):
    # An 8-bit colour PNG or JPEG decodes to gray directly, never to a colour array.
    content = encoded(extension, np.zeros((100, 100, 3), np.uint8))
    assert decode_grayscale_image(content, f"colour{extension}", max_decoded_bytes=10_000).shape == (100, 100)
    with pytest.raises(ImageTooLargeError, match="x 8 bits"):
        decode_grayscale_image(content, f"colour{extension}", max_decoded_bytes=9_999)
