# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing image conversion: any Image or CompressedImage message becomes a model input or an ImageConversionError.

The node and ``eval`` convert every message with :class:`~disk_trt_ros.image_conversion.ImageConverter`.
Whatever a publisher or a bag puts in the fields (encoding, width, height, step, endianness, data length, the bytes
of a compressed image), the converter returns a uint8 ``[H, W, C]`` image of the model's size and format, or raises
:class:`~disk_trt_ros.errors.ImageConversionError` with a message; a well-formed message is never
refused; keypoints mapped back always land inside the source image.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from disk_trt_ros.contract import InputFormat
from disk_trt_ros.errors import ImageConversionError
from disk_trt_ros.image_conversion import ImageConverter, ModelInput, declared_size, keypoints_to_source
from support.fuzz import (
    UINT32_MAX,
    compressed_data,
    encoded_pictures,
    malformed_images,
    pictures_declaring,
    well_formed_images,
)

sensor_msgs = pytest.importorskip("sensor_msgs.msg")
Image, CompressedImage = sensor_msgs.Image, sensor_msgs.CompressedImage

FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MODEL_SIZES = [(32, 48), (16, 16), (64, 32)]  # (height, width)

converters = st.builds(
    lambda size, input_format: ImageConverter(size[0], size[1], input_format),
    st.sampled_from(MODEL_SIZES),
    st.sampled_from(InputFormat),
)


def check_output(converter: ImageConverter, result: ModelInput, width: int, height: int) -> None:
    """A conversion that succeeded gives the model's input exactly, and remembers the source size."""
    channels = converter.input_format.channels
    assert result.image.shape == (converter.height, converter.width, channels)
    assert result.image.dtype == np.uint8 and result.image.flags.c_contiguous
    assert (result.source_width, result.source_height) == (width, height)


def convert_or_reject(convert: Any, message: Any) -> ModelInput | None:
    """``convert(message)``; an ImageConversionError (only that) becomes None after checking it says something."""
    try:
        result = convert(message)
    except ImageConversionError as error:
        assert len(str(error)) > 20, f"unhelpful message: {error!r}"
        event(f"rejected: {type(error).__name__}")
        return None
    event("converted")
    return result


# ---------------------------------------------------------------------------------------------- raw images


@given(converter=converters, message=well_formed_images())
@FUZZ
def test_well_formed_images_are_always_converted(converter: ImageConverter, message: Image) -> None:
    result = converter.from_image(message)
    check_output(converter, result, message.width, message.height)


# Kept examples: the size fields at uint32's limit (a step x height product far beyond any buffer), a step one byte
# short of a 16-bit row, a 16-bit image with an odd step, a 1-pixel-high image 4000 pixels wide.
@example(converter=ImageConverter(32, 48, InputFormat.RGB),
         message=Image(height=UINT32_MAX, width=UINT32_MAX, encoding="rgb8", step=UINT32_MAX, data=bytes(12)))
@example(converter=ImageConverter(32, 48, InputFormat.MONO),
         message=Image(height=2, width=3, encoding="mono16", step=5, data=bytes(10)))
@example(converter=ImageConverter(32, 48, InputFormat.BGR),
         message=Image(height=2, width=3, encoding="mono16", step=7, is_bigendian=1, data=bytes(14)))
@example(converter=ImageConverter(16, 16, InputFormat.RGB),
         message=Image(height=1, width=4000, encoding="bgra8", step=16000, data=bytes(16000)))
@given(converter=converters, message=malformed_images())
@FUZZ
def test_any_image_message_is_converted_or_rejected_with_a_message(converter: ImageConverter, message: Image) -> None:
    result = convert_or_reject(converter.from_image, message)
    if result is not None:
        check_output(converter, result, message.width, message.height)


# ---------------------------------------------------------------------------------------------- compressed images


@given(converter=converters, data=compressed_data,
       image_format=st.sampled_from(["jpeg", "png", "rgb8; jpeg compressed bgr8", "bmp", ""]) | st.text(max_size=20))
@FUZZ
def test_any_compressed_message_is_converted_or_rejected_with_a_message(
    converter: ImageConverter, data: bytes, image_format: str
) -> None:
    message = CompressedImage(format=image_format, data=data)
    result = convert_or_reject(converter.from_compressed, message)
    if result is not None:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        check_output(converter, result, decoded.shape[1], decoded.shape[0])
        # what the limit is checked on is what the decoder made: a header cannot understate the image
        assert declared_size(np.frombuffer(data, np.uint8), image_format) == (decoded.shape[1], decoded.shape[0])


@given(picture=pictures_declaring(max_side=4 * 64), input_format=st.sampled_from(InputFormat))
@FUZZ
def test_a_picture_declaring_more_than_the_limit_is_refused_before_decoding(
    picture: tuple[bytes, int, int], input_format: InputFormat
) -> None:
    """Headers rewritten to any size: over the limit (here 64x64 pixels), refused by name before the decoder runs;
    within it, converted at exactly the declared size or rejected as corrupt."""
    data, width, height = picture
    converter = ImageConverter(32, 48, input_format, max_image_pixels=64 * 64)
    result = convert_or_reject(converter.from_compressed, CompressedImage(format="jpeg", data=data))
    if width * height > 64 * 64:
        assert result is None
        with pytest.raises(ImageConversionError, match=f"declares {width}x{height} = {width * height} pixels, more "
                                                       "than max_image_pixels = 4096: refused before decoding"):
            converter.from_compressed(CompressedImage(format="jpeg", data=data))
    elif result is not None:
        check_output(converter, result, width, height)


@pytest.mark.parametrize("index", range(len(encoded_pictures())))
def test_the_declared_size_is_read_from_every_kind_of_picture(index: int) -> None:
    assert declared_size(np.frombuffer(encoded_pictures()[index], np.uint8), "png") == (40, 24)


def test_a_raw_image_over_the_limit_is_refused_before_its_data_is_read() -> None:
    converter = ImageConverter(32, 48, InputFormat.RGB, max_image_pixels=100 * 100)
    with pytest.raises(ImageConversionError, match=r"image \(rgb8\) declares 101x100 = 10100 pixels, more than "
                                                   "max_image_pixels = 10000"):
        converter.from_image(Image(height=100, width=101, encoding="rgb8", step=303, data=bytes(30300)))
    assert converter.from_image(Image(height=100, width=100, encoding="rgb8", step=300, data=bytes(30000)))


@pytest.mark.parametrize("index", range(len(encoded_pictures())))
def test_every_kind_of_intact_picture_is_converted(index: int) -> None:
    for input_format in InputFormat:
        converter = ImageConverter(32, 48, input_format)
        picture = CompressedImage(format="png", data=encoded_pictures()[index])
        check_output(converter, converter.from_compressed(picture), 40, 24)


# ---------------------------------------------------------------------------------------------- the mapping back


@given(
    source=st.tuples(st.integers(1, 20_000), st.integers(1, 20_000)),
    model=st.sampled_from([(48, 32), (160, 128), (640, 480), (16, 16)]),
    fractions=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=20),
)
@FUZZ
def test_keypoints_mapped_back_are_finite_and_inside_the_source_image(
    source: tuple[int, int], model: tuple[int, int], fractions: list[tuple[float, float]]
) -> None:
    """Every model pixel (x in 0..W-1, y in 0..H-1) maps into the source image's area [-0.5, W_src - 0.5]."""
    keypoints = np.rint(np.array(fractions) * (np.array(model) - 1)).astype(np.float32)
    mapped = keypoints_to_source(keypoints, source, model)
    assert mapped.dtype == np.float32 and np.all(np.isfinite(mapped))
    assert np.all(mapped >= -0.5) and np.all(mapped <= np.array(source, np.float32) - 0.5), (keypoints, mapped)
