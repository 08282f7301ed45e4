# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Image messages to model input: raw encodings, compressed images, resizing, the mapping back, bad messages."""

from __future__ import annotations

import sys
import types

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disk_trt_ros.contract import InputFormat
from disk_trt_ros.errors import ImageConversionError, UnsupportedEncodingError
from disk_trt_ros.image_conversion import RAW_ENCODINGS, ImageConverter, decode_raw, keypoints_to_source
from support.images import raw_message

sensor_msgs = pytest.importorskip("sensor_msgs.msg", reason="the ROS 2 message wheels are not installed: make setup")
Image, CompressedImage = sensor_msgs.Image, sensor_msgs.CompressedImage


def make_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def encode_as(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """``rgb`` in the channel order of a colour encoding."""
    codes = {
        "rgb8": None,
        "bgr8": cv2.COLOR_RGB2BGR,
        "rgba8": cv2.COLOR_RGB2RGBA,
        "bgra8": cv2.COLOR_RGB2BGRA,
    }
    return rgb if codes[encoding] is None else cv2.cvtColor(rgb, codes[encoding])


@pytest.fixture
def no_cv_bridge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv_bridge", None)  # import now raises ImportError


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
@pytest.mark.parametrize("padding", [0, 5])
def test_colour_encodings_decode_to_the_same_rgb(encoding: str, padding: int) -> None:
    rgb = make_rgb(6, 7)
    converter = ImageConverter(6, 7, InputFormat.RGB)
    model_input = converter.from_image(raw_message(encode_as(rgb, encoding), encoding, padding))
    np.testing.assert_array_equal(model_input.image, rgb)
    assert (model_input.source_width, model_input.source_height) == (7, 6)


@pytest.mark.parametrize(
    ("input_format", "code"),
    [(InputFormat.RGB, None), (InputFormat.BGR, cv2.COLOR_RGB2BGR), (InputFormat.MONO, cv2.COLOR_RGB2GRAY)],
)
def test_output_follows_the_model_input_format(input_format: InputFormat, code: int | None) -> None:
    rgb = make_rgb(8, 9)
    model_input = ImageConverter(8, 9, input_format).from_image(raw_message(encode_as(rgb, "bgra8"), "bgra8"))
    expected = rgb if code is None else cv2.cvtColor(rgb, code)
    assert model_input.image.dtype == np.uint8
    np.testing.assert_array_equal(model_input.image, expected.reshape(8, 9, input_format.channels))


@pytest.mark.parametrize("bigendian", [False, True])
def test_mono16_keeps_the_high_byte_in_the_message_byte_order(bigendian: bool) -> None:
    values = np.random.default_rng(1).integers(0, 65536, (5, 6, 1), dtype=np.uint16)
    message = raw_message(values, "mono16", padding=4, bigendian=bigendian)
    model_input = ImageConverter(5, 6, InputFormat.MONO).from_image(message)
    np.testing.assert_array_equal(model_input.image, (values >> 8).astype(np.uint8))


def test_mono_encodings_agree_and_fill_every_channel() -> None:
    gray = make_rgb(6, 8)[..., :1]
    converter = ImageConverter(6, 8, InputFormat.RGB)
    from_mono8 = converter.from_image(raw_message(gray, "mono8", padding=3)).image
    from_mono16 = converter.from_image(raw_message(gray.astype(np.uint16) << 8 | 0x7F, "mono16", bigendian=True))
    np.testing.assert_array_equal(from_mono8, np.repeat(gray, 3, axis=2))
    np.testing.assert_array_equal(from_mono16.image, from_mono8)


@settings(max_examples=60, deadline=None)
@given(
    encoding=st.sampled_from(sorted(RAW_ENCODINGS)),
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    padding=st.integers(0, 9),
    bigendian=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_decode_raw_recovers_the_pixels(
    encoding: str, height: int, width: int, padding: int, bigendian: bool, seed: int
) -> None:
    layout = RAW_ENCODINGS[encoding]
    maximum = np.iinfo(layout.dtype).max
    pixels = np.random.default_rng(seed).integers(0, maximum, (height, width, layout.channels), dtype=layout.dtype)
    decoded = decode_raw(raw_message(pixels, encoding, padding, bigendian))
    assert decoded.shape == pixels.shape
    np.testing.assert_array_equal(decoded.astype(layout.dtype), pixels)


def test_shrinking_uses_area_and_enlarging_uses_linear_interpolation() -> None:
    rgb = make_rgb(40, 60)
    small = ImageConverter(20, 24, InputFormat.RGB).from_image(raw_message(rgb, "rgb8")).image
    large = ImageConverter(64, 80, InputFormat.RGB).from_image(raw_message(rgb, "rgb8")).image
    np.testing.assert_array_equal(small, cv2.resize(rgb, (24, 20), interpolation=cv2.INTER_AREA))
    np.testing.assert_array_equal(large, cv2.resize(rgb, (80, 64), interpolation=cv2.INTER_LINEAR))
    assert small.shape == (20, 24, 3) and large.shape == (64, 80, 3)


def test_mono_model_input_keeps_its_channel_axis_after_resizing() -> None:
    gray = make_rgb(30, 30)[..., :1]
    model_input = ImageConverter(16, 16, InputFormat.MONO).from_image(raw_message(gray, "mono8"))
    assert model_input.image.shape == (16, 16, 1)


@pytest.mark.parametrize(
    ("source_size", "model_size", "tolerance"),
    [
        ((320, 256), (160, 128), 1e-3),
        ((100, 50), (160, 128), 1e-3),
        # INTER_AREA averages whole source pixels, so a ramp's mean over a fractional footprint is off by < 0.05
        ((1024, 731), (160, 128), 0.05),
    ],
)
def test_mapping_back_follows_the_pixel_centres_of_cv2_resize(
    source_size: tuple[int, int], model_size: tuple[int, int], tolerance: float
) -> None:
    """Resizing a ramp x (or y) gives, at each model pixel, the source coordinate the mapping returns."""
    (source_width, source_height), (model_width, model_height) = source_size, model_size
    ys, xs = np.mgrid[0:source_height, 0:source_width].astype(np.float32)
    shrinking = source_width >= model_width and source_height >= model_height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized_x = cv2.resize(xs, model_size, interpolation=interpolation)
    resized_y = cv2.resize(ys, model_size, interpolation=interpolation)
    model_ys, model_xs = np.mgrid[2 : model_height - 2, 2 : model_width - 2]  # away from the clamped border
    keypoints = np.stack([model_xs.ravel(), model_ys.ravel()], axis=1).astype(np.float32)
    mapped = keypoints_to_source(keypoints, source_size, model_size)
    np.testing.assert_allclose(mapped[:, 0], resized_x[model_ys, model_xs].ravel(), atol=tolerance)
    np.testing.assert_allclose(mapped[:, 1], resized_y[model_ys, model_xs].ravel(), atol=tolerance)


def test_mapping_back_is_the_identity_at_the_model_size_and_stays_inside_the_source() -> None:
    keypoints = np.array([[0, 0], [159, 127], [17, 3]], np.float32)
    np.testing.assert_array_equal(keypoints_to_source(keypoints, (160, 128), (160, 128)), keypoints)
    mapped = ImageConverter(128, 160, InputFormat.RGB).from_image(raw_message(make_rgb(731, 1024), "rgb8"))
    corners = mapped.keypoints_to_source(np.array([[0, 0], [159, 127]], np.float32))
    np.testing.assert_allclose(corners, [[1024 / 320 - 0.5, 731 / 256 - 0.5], [1023.5 - 1024 / 320, 730.5 - 731 / 256]])
    assert mapped.keypoints_to_source(keypoints).dtype == np.float32


@pytest.mark.parametrize("input_format", list(InputFormat))
def test_jpeg_gives_the_decoded_jpeg(input_format: InputFormat) -> None:
    rgb = make_rgb(24, 32)
    jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
    decoded_bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    converter = ImageConverter(24, 32, input_format)
    from_jpeg = converter.from_compressed(CompressedImage(format="rgb8; jpeg compressed bgr8", data=jpeg))
    from_raw = converter.from_image(raw_message(decoded_bgr, "bgr8"))
    np.testing.assert_array_equal(from_jpeg.image, from_raw.image)


def test_png_keeps_alpha_mono_and_16_bit_images_apart() -> None:
    rgb = make_rgb(10, 12)
    converter = ImageConverter(10, 12, InputFormat.RGB)
    bgra_png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA))[1].tobytes()
    np.testing.assert_array_equal(converter.from_compressed(CompressedImage(format="png", data=bgra_png)).image, rgb)
    values = np.random.default_rng(2).integers(0, 65536, (10, 12), dtype=np.uint16)
    mono16_png = cv2.imencode(".png", values)[1].tobytes()
    model_input = converter.from_compressed(CompressedImage(format="mono16; png compressed", data=mono16_png))
    np.testing.assert_array_equal(model_input.image, np.repeat((values >> 8).astype(np.uint8)[..., None], 3, 2))


def _jpeg() -> bytes:
    return cv2.imencode(".jpg", make_rgb(16, 16))[1].tobytes()


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (Image(height=0, width=4, encoding="rgb8", step=12, data=b""), "empty"),
        (Image(height=2, width=0, encoding="mono8", step=0, data=b""), "empty"),
        (Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(47)), "fewer than step x height"),
        (Image(height=4, width=4, encoding="rgb8", step=11, data=bytes(48)), "smaller than width x bytes per pixel"),
        (Image(height=4, width=4, encoding="mono16", step=4, data=bytes(16)), "smaller than width x bytes per pixel"),
        (CompressedImage(format="jpeg", data=b""), "has no data"),
        (CompressedImage(format="jpeg", data=_jpeg()[: len(_jpeg()) // 2]), "corrupt or truncated"),
        (CompressedImage(format="jpeg", data=_jpeg()[:3] + bytes(range(256))), "corrupt or truncated"),
        (CompressedImage(format="16UC1; compressedDepth", data=bytes(64)), "neither JPEG nor PNG"),
    ],
)
def test_bad_messages_raise_a_conversion_error_naming_the_problem(
    message: Image | CompressedImage, problem: str
) -> None:
    converter = ImageConverter(16, 16, InputFormat.RGB)
    convert = converter.from_image if isinstance(message, Image) else converter.from_compressed
    with pytest.raises(ImageConversionError, match=problem):
        convert(message)


def test_other_encodings_without_cv_bridge_name_the_supported_ones(no_cv_bridge: None) -> None:
    message = Image(height=2, width=2, encoding="yuv422", step=4, data=bytes(8))
    with pytest.raises(UnsupportedEncodingError, match="'yuv422' is not supported without cv_bridge") as raised:
        ImageConverter(16, 16, InputFormat.RGB).from_image(message)
    assert raised.value.encoding == "yuv422"
    assert "mono8, mono16, rgb8, bgr8, rgba8, bgra8" in str(raised.value)


class FakeCvBridge:
    """Stands in for cv_bridge (not installable here): converts ``8UC3`` as bgr8, refuses the rest."""

    def imgmsg_to_cv2(self, message: Image, desired_encoding: str) -> np.ndarray:
        if message.encoding != "8UC3":
            raise ValueError(f"[{message.encoding}] is not a type supported by this fake")
        bgr = np.frombuffer(message.data, np.uint8).reshape(message.height, message.width, 3)
        assert desired_encoding == "rgb8"
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture
def fake_cv_bridge(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("cv_bridge")
    module.CvBridge = FakeCvBridge  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cv_bridge", module)


def test_other_encodings_go_through_cv_bridge_in_the_model_format(fake_cv_bridge: None) -> None:
    rgb = make_rgb(32, 40)
    message = raw_message(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), "8UC3")
    model_input = ImageConverter(16, 20, InputFormat.RGB).from_image(message)
    np.testing.assert_array_equal(model_input.image, cv2.resize(rgb, (20, 16), interpolation=cv2.INTER_AREA))
    with pytest.raises(UnsupportedEncodingError, match="cv_bridge cannot convert image encoding 'bayer_rggb8'"):
        ImageConverter(16, 20, InputFormat.RGB).from_image(
            Image(height=2, width=2, encoding="bayer_rggb8", step=2, data=bytes(4))
        )
