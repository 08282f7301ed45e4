"""Hypothesis strategies shared by the fuzz tests: JSON values, Image messages (well-formed and malformed) and the
bytes of compressed images. ROS messages, OpenCV and Pillow are imported when a strategy first draws."""

from __future__ import annotations

import functools
import io
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


@functools.lru_cache(maxsize=None)
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
