# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Hypothesis strategies shared by the fuzz tests: JSON values, Image messages (well-formed and malformed) and the
bytes of compressed images; and decompression bombs, small files whose header declares a huge image. ROS messages,
OpenCV and Pillow are imported when a strategy first draws."""

from __future__ import annotations

import functools
import io
import math
import struct
import zlib
from typing import Any

import numpy as np
from hypothesis import strategies as st

from disk_trt_ros.image_conversion import RAW_ENCODINGS

UINT32_MAX = 2**32 - 1


def json_values(text_size: int, key_size: int, max_leaves: int) -> st.SearchStrategy[Any]:
    """Any JSON value: null, booleans, integers, floats (NaN and infinities included), texts of up to ``text_size``
    characters, and lists and objects (keys up to ``key_size`` characters) nesting them, ``max_leaves`` at most."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=text_size),
        lambda children: st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=key_size), children, max_size=3),
        max_leaves=max_leaves,
    )


# ---------------------------------------------------------------------------------------------- raw images


@st.composite
def well_formed_images(draw: st.DrawFn) -> Any:
    """A valid ``sensor_msgs/Image`` in one of the supported encodings, with random pixels, row padding and byte
    order."""
    from sensor_msgs.msg import Image

    encoding = draw(st.sampled_from(sorted(RAW_ENCODINGS)))
    layout = RAW_ENCODINGS[encoding]
    height = draw(st.integers(1, 40))
    width = draw(st.integers(1, 40))
    padding = draw(st.integers(0, 9))
    step = width * layout.bytes_per_pixel + padding
    data = draw(st.binary(min_size=step * height, max_size=step * height + 8))
    return Image(height=height, width=width, encoding=encoding, is_bigendian=draw(st.integers(0, 1)), step=step,
                 data=data)


@st.composite
def malformed_images(draw: st.DrawFn) -> Any:
    """A well-formed Image with some fields replaced: encodings of any name, sizes and steps up to uint32's limit,
    any endianness byte, data cut short, extended or replaced."""
    message = draw(well_formed_images())
    fields = draw(st.sets(st.sampled_from(["encoding", "height", "width", "step", "is_bigendian", "data"]),
                          min_size=1))
    if "encoding" in fields:
        message.encoding = draw(st.sampled_from(sorted(RAW_ENCODINGS) + ["", "RGB8", "mono8 ", "16UC1", "32FC1",
                                                                          "bayer_rggb8", "yuv422", "8UC3"])
                                | st.text(max_size=12))
    for name in ("height", "width", "step"):
        if name in fields:
            current = getattr(message, name)
            setattr(message, name, draw(st.sampled_from([0, 1, UINT32_MAX, current + 1, max(current - 1, 0)])
                                        | st.integers(0, UINT32_MAX)))
    if "is_bigendian" in fields:
        message.is_bigendian = draw(st.integers(0, 255))
    if "data" in fields:
        data = bytes(message.data)
        message.data = draw(st.sampled_from([b"", data[: len(data) // 2], data[:-1], data + b"\0" * 64])
                            | st.binary(max_size=256))
    return message


# ---------------------------------------------------------------------------------------------- compressed images


@functools.cache
def encoded_pictures() -> tuple[bytes, ...]:
    """JPEG and PNG files of every kind a camera driver or a bag might hold: mono, colour, alpha, palette,
    1-bit, 16-bit, CMYK JPEG."""
    import cv2
    from PIL import Image as PilImage

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    pictures = [cv2.imencode(".jpg", rgb)[1].tobytes(), cv2.imencode(".png", rgb)[1].tobytes(),
                cv2.imencode(".png", (rgb.astype(np.uint16) * 257))[1].tobytes(),
                cv2.imencode(".png", (rgb[..., 0].astype(np.uint16) * 257))[1].tobytes()]
    for file_format, modes in (("PNG", ("1", "L", "LA", "P", "RGB", "RGBA")), ("JPEG", ("L", "RGB", "CMYK"))):
        for mode in modes:
            stream = io.BytesIO()
            PilImage.fromarray(rgb).convert(mode).save(stream, file_format)
            pictures.append(stream.getvalue())
    return tuple(pictures)


@st.composite
def damaged_pictures(draw: st.DrawFn) -> bytes:
    """A picture of :func:`encoded_pictures` truncated, with bytes overwritten, or spliced with random bytes."""
    picture = draw(st.sampled_from(encoded_pictures()))
    damage = draw(st.sampled_from(["none", "truncate", "overwrite", "splice"]))
    if damage == "truncate":
        return picture[: draw(st.integers(0, len(picture) - 1))]
    if damage == "none":
        return picture
    start = draw(st.integers(0, len(picture) - 1))
    patch = draw(st.binary(min_size=1, max_size=32))
    end = start + (len(patch) if damage == "overwrite" else 0)
    return picture[:start] + patch + picture[end:]


compressed_data = st.one_of(
    damaged_pictures(),
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda tail: b"\xff\xd8\xff" + tail),  # a JPEG signature, then noise
    st.binary(max_size=300).map(lambda tail: b"\x89PNG\r\n\x1a\n" + tail),  # a PNG signature, then noise
)


# ---------------------------------------------------------------------------------------------- decompression bombs


def jpeg_declaring(width: int, height: int) -> bytes:
    """A 631-byte JPEG of 8x8 black pixels whose frame header declares ``width`` x ``height`` (at most 65535 each):
    libjpeg decodes the data there is and fills the rest, so a decoder allocates and writes the whole image."""
    import cv2

    from disk_trt_ros.image_conversion import jpeg_frame_header

    picture = bytearray(cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    frame_header = jpeg_frame_header(memoryview(bytes(picture)))
    assert frame_header is not None
    picture[frame_header + 5 : frame_header + 9] = struct.pack(">HH", height, width)
    return bytes(picture)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, rows: int | None = 1) -> bytes:
    """An 8-bit grey PNG declaring ``width`` x ``height`` whose image data holds ``rows`` rows of zeros (None: all
    of them, a complete image: 875 kB for 30000x30000). A decoder allocates the whole image from the header."""
    rows = height if rows is None else rows
    row = b"\0" * (width + 1)  # a filter byte, then the pixels
    block_rows = math.gcd(rows, 1000)
    compressor = zlib.compressobj(9)
    first = compressor.compress(row * block_rows) + compressor.flush(zlib.Z_FULL_FLUSH)
    # After a full flush the compressor starts afresh, so every further block of zeros compresses to the same bytes.
    repeated = compressor.compress(row * block_rows) + compressor.flush(zlib.Z_FULL_FLUSH)
    size = len(row) * rows
    adler32 = (size % 65521) << 16 | 1  # the Adler-32 of zeros: A stays 1, B counts the bytes
    data = first + repeated * (rows // block_rows - 1) + b"\x03\x00" + struct.pack(">I", adler32)  # empty last block
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return _PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@st.composite
def pictures_declaring(draw: st.DrawFn, max_side: int) -> tuple[bytes, int, int]:
    """A picture of :func:`encoded_pictures` whose header is rewritten to declare another size (each side 0 to
    ``max_side``), with that size: the decoder reads the rest of the file as it is."""
    from disk_trt_ros.image_conversion import jpeg_frame_header

    picture = bytearray(draw(st.sampled_from(encoded_pictures())))
    width, height = draw(st.integers(0, max_side)), draw(st.integers(0, max_side))
    if picture.startswith(_PNG_SIGNATURE):
        header = bytes(picture[16:20 + 9])
        picture[8:33] = png_chunk(b"IHDR", struct.pack(">II", width, height) + header[8:])
    else:
        frame_header = jpeg_frame_header(memoryview(bytes(picture)))
        assert frame_header is not None
        picture[frame_header + 5 : frame_header + 9] = struct.pack(">HH", height, width)
    return bytes(picture), width, height
