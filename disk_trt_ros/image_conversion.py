# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""From ``sensor_msgs/Image`` and ``sensor_msgs/CompressedImage`` to the model's input, and back to the source frame.

The model takes a uint8 ``[H, W, C]`` image of its own size in its own :class:`~disk_trt_ros.contract.InputFormat`.
A message is decoded to its pixels at the source size, converted to the model's channel layout, then resized to the
model's size: :data:`cv2.INTER_AREA` when shrinking both axes, :data:`cv2.INTER_LINEAR` otherwise.
:func:`keypoints_to_source` maps model-frame keypoints back to the source image (:func:`keypoints_to_model` the
other way, for a matcher that takes keypoints in its model's frame).

The raw encodings of :data:`RAW_ENCODINGS` are decoded here (``step`` row padding and ``is_bigendian`` honoured);
``mono16`` (and 16-bit PNG) keeps its high byte (``value >> 8``), a fixed scaling that maps 0..65535 onto 0..255.
CompressedImage data must be JPEG or PNG. Other raw encodings (Bayer, YUV, ``8UC3``...) go through ``cv_bridge``
when it is installed.

A message of more than ``max_image_pixels`` (width x height, :data:`DEFAULT_MAX_IMAGE_PIXELS` by default) is refused
before anything is allocated for its pixels: for a raw image, by its declared size; for JPEG and PNG, by the size
their header declares (:func:`declared_size`), since a 629-byte JPEG can declare 30000x30000 pixels, for which the
decoder would allocate 2.7 GB. Every decoder failure, OpenCV's ``cv2.error`` included, is an
:class:`~disk_trt_ros.errors.ImageConversionError`.

No ROS import: a message is read through its fields (:class:`RawImageMessage`, :class:`CompressedImageMessage`), so
rclpy's messages (the node), rosbags' (``eval``) and plain arrays (:meth:`ImageConverter.from_pixels`, ``bench``) all
go through the same conversion.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
from typing import Any, Protocol

import cv2
import numpy as np

from disk_trt_ros.contract import InputFormat
from disk_trt_ros.errors import ImageConversionError, UnsupportedEncodingError


class RawImageMessage(Protocol):
    """The fields of ``sensor_msgs/Image`` that the conversion reads."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: Any  # a buffer of bytes: array.array('B') in rclpy messages


class CompressedImageMessage(Protocol):
    """The fields of ``sensor_msgs/CompressedImage`` that the conversion reads."""

    format: str
    data: Any


@dataclasses.dataclass(frozen=True)
class PixelLayout:
    """How one raw encoding stores a pixel.

    Attributes:
        channels: values per pixel.
        dtype: numpy type of one value (byte order is set by the message's ``is_bigendian``).
        order: channel order, ``mono``, ``rgb``, ``bgr``, ``rgba`` or ``bgra``.
    """

    channels: int
    dtype: type[np.unsignedinteger]
    order: str

    @property
    def bytes_per_pixel(self) -> int:
        return self.channels * np.dtype(self.dtype).itemsize


RAW_ENCODINGS: dict[str, PixelLayout] = {
    "mono8": PixelLayout(1, np.uint8, "mono"),
    "mono16": PixelLayout(1, np.uint16, "mono"),
    "rgb8": PixelLayout(3, np.uint8, "rgb"),
    "bgr8": PixelLayout(3, np.uint8, "bgr"),
    "rgba8": PixelLayout(4, np.uint8, "rgba"),
    "bgra8": PixelLayout(4, np.uint8, "bgra"),
}

# (source channel order, model input format) -> cv2.cvtColor code; None where the layouts already agree. The source
# orders are those of the message encodings (RAW_ENCODINGS, imdecode's), alpha included; to grey is cv2's weighted sum.
_COLOR_CONVERSIONS: dict[tuple[str, InputFormat], int | None] = {
    ("mono", InputFormat.MONO): None,
    ("mono", InputFormat.RGB): cv2.COLOR_GRAY2RGB,
    ("mono", InputFormat.BGR): cv2.COLOR_GRAY2BGR,
    ("rgb", InputFormat.MONO): cv2.COLOR_RGB2GRAY,
    ("rgb", InputFormat.RGB): None,
    ("rgb", InputFormat.BGR): cv2.COLOR_RGB2BGR,
    ("bgr", InputFormat.MONO): cv2.COLOR_BGR2GRAY,
    ("bgr", InputFormat.RGB): cv2.COLOR_BGR2RGB,
    ("bgr", InputFormat.BGR): None,
    ("rgba", InputFormat.MONO): cv2.COLOR_RGBA2GRAY,
    ("rgba", InputFormat.RGB): cv2.COLOR_RGBA2RGB,
    ("rgba", InputFormat.BGR): cv2.COLOR_RGBA2BGR,
    ("bgra", InputFormat.MONO): cv2.COLOR_BGRA2GRAY,
    ("bgra", InputFormat.RGB): cv2.COLOR_BGRA2RGB,
    ("bgra", InputFormat.BGR): cv2.COLOR_BGRA2BGR,
}

# Channel order of an image cv2.imdecode returned (IMREAD_UNCHANGED), by its number of channels.
_DECODED_ORDER = {1: "mono", 3: "bgr", 4: "bgra"}

_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The largest image accepted by default, width x height: DCI 8K (8192x4320, 35.4 Mpx), which also covers 8K UHD
# (7680x4320, 33.2 Mpx). The node's parameter max_image_pixels and eval's --max-image-pixels default to it.
DEFAULT_MAX_IMAGE_PIXELS = 8192 * 4320
# The most max_image_pixels may be set to: OpenCV's own limit on a decoded image (CV_IO_MAX_IMAGE_PIXELS).
MAX_IMAGE_PIXELS_LIMIT = 1 << 30

# JPEG markers that start a frame header (SOF0-3, 5-7, 9-11, 13-15); between SOI and the frame header, every marker
# but the standalone ones (TEM, RST0-7) is followed by a 2-byte big-endian length that counts itself.
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE_MARKERS = frozenset([0x01, *range(0xD0, 0xD8)])
_JPEG_SCAN_OR_END = frozenset([0xDA, 0xD9])  # SOS, EOI: the frame header must come before them


@dataclasses.dataclass(frozen=True)
class ModelInput:
    """One frame ready for a backend.

    Attributes:
        image: uint8 ``[H, W, C]`` in the model's size and input format.
        source_width, source_height: size of the image the message carried, in pixels.
    """

    image: np.ndarray
    source_width: int
    source_height: int

    def keypoints_to_source(self, keypoints: np.ndarray) -> np.ndarray:
        """Map float32 ``[N, 2]`` (x, y) keypoints from the model's frame to the source image's frame."""
        model_height, model_width = self.image.shape[:2]
        return keypoints_to_source(
            keypoints, (self.source_width, self.source_height), (model_width, model_height)
        )


def keypoints_to_source(
    keypoints: np.ndarray, source_size: tuple[int, int], model_size: tuple[int, int]
) -> np.ndarray:
    """Map ``[N, 2]`` (x, y) pixel positions from the model's frame to the source frame, as float32.

    Pixel centres are aligned, as ``cv2.resize`` aligns them: ``x_src = (x + 0.5) * W_src / W_model - 0.5``, and
    the same for y with heights. Keypoints of the model frame land inside the source image's area,
    ``[-0.5, W_src - 0.5] x [-0.5, H_src - 0.5]``.

    Args:
        keypoints: ``[N, 2]`` (x, y) positions in the model's frame.
        source_size: ``(W_src, H_src)``.
        model_size: ``(W_model, H_model)``.
    """
    scale = np.array(source_size, dtype=np.float64) / np.array(model_size, dtype=np.float64)
    return ((keypoints.astype(np.float64) + 0.5) * scale - 0.5).astype(np.float32)


def keypoints_to_model(
    keypoints: np.ndarray, source_size: tuple[int, int], model_size: tuple[int, int]
) -> np.ndarray:
    """The inverse of :func:`keypoints_to_source`: ``[N, 2]`` (x, y) positions of the source frame in the model's
    frame (of ``model_size``, ``(W_model, H_model)``), as float32."""
    return keypoints_to_source(keypoints, model_size, source_size)


class ImageConverter:
    """Turns image messages into :class:`ModelInput` for a model of one size and input format; images of more than
    ``max_image_pixels`` pixels (width x height) are refused before they are decoded."""

    def __init__(
        self, height: int, width: int, input_format: InputFormat, max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    ) -> None:
        self.height = height
        self.width = width
        self.input_format = input_format
        self.max_image_pixels = max_image_pixels

    def from_image(self, message: RawImageMessage) -> ModelInput:
        """Convert a ``sensor_msgs/Image``; raises :class:`ImageConversionError` for a message it cannot use."""
        refuse_oversized(message.width, message.height, self.max_image_pixels, f"image ({message.encoding})")
        if message.encoding in RAW_ENCODINGS:
            pixels, order = decode_raw(message), RAW_ENCODINGS[message.encoding].order
        else:
            pixels, order = self._decode_with_cv_bridge(message), self.input_format.value
        return self.from_pixels(pixels, order)

    def from_compressed(self, message: CompressedImageMessage) -> ModelInput:
        """Convert a JPEG or PNG ``sensor_msgs/CompressedImage``; raises :class:`ImageConversionError` if unusable."""
        pixels = decode_compressed(message, self.max_image_pixels)
        return self.from_pixels(pixels, _DECODED_ORDER[pixels.shape[2]])

    def from_pixels(self, pixels: np.ndarray, order: str) -> ModelInput:
        """Convert ``[h, w, c]`` pixels (uint8, or uint16 for 16-bit data) in channel ``order`` (``rgb``, ``bgr``,
        ``rgba``, ``bgra`` or ``mono``) to the model's input format and size."""
        source_height, source_width = pixels.shape[:2]
        if pixels.dtype == np.uint16:
            pixels = (pixels >> 8).astype(np.uint8)
        code = _COLOR_CONVERSIONS[(order, self.input_format)]
        image = np.ascontiguousarray(pixels) if code is None else cv2.cvtColor(np.ascontiguousarray(pixels), code)
        if (source_height, source_width) != (self.height, self.width):
            shrinking = source_width >= self.width and source_height >= self.height
            interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
            image = cv2.resize(image, (self.width, self.height), interpolation=interpolation)
        return ModelInput(
            image=image.reshape(self.height, self.width, self.input_format.channels),
            source_width=source_width,
            source_height=source_height,
        )

    @functools.cached_property
    def _cv_bridge(self) -> Any:
        """A ``cv_bridge.CvBridge``, or None where cv_bridge is not installed."""
        try:
            from cv_bridge import CvBridge
        except ImportError:
            return None
        return CvBridge()

    def _decode_with_cv_bridge(self, message: RawImageMessage) -> np.ndarray:
        """Convert an encoding outside :data:`RAW_ENCODINGS` to the model's layout with cv_bridge, ``[h, w, c]``."""
        encoding = message.encoding
        target = self.input_format.ros_encoding
        if self._cv_bridge is None:
            raise UnsupportedEncodingError(
                encoding,
                f"image encoding '{encoding}' is not supported without cv_bridge: publish one of "
                f"{', '.join(RAW_ENCODINGS)} (or JPEG/PNG on image/compressed), or install cv_bridge",
            )
        try:
            pixels = self._cv_bridge.imgmsg_to_cv2(message, desired_encoding=target)
        except Exception as error:  # cv_bridge raises CvBridgeError, and cv2.error or TypeError on odd input
            raise UnsupportedEncodingError(
                encoding, f"cv_bridge cannot convert image encoding '{encoding}' to {target}: {error}"
            ) from error
        return np.asarray(pixels, dtype=np.uint8).reshape(pixels.shape[0], pixels.shape[1], -1)


def decode_raw(message: RawImageMessage) -> np.ndarray:
    """The pixels of a raw image in one of :data:`RAW_ENCODINGS`: ``[h, w, c]`` in the encoding's dtype and order.

    Row padding (``step`` beyond ``width`` pixels) is dropped; 16-bit values are read in the message's byte order
    and returned in the machine's.
    """
    layout = RAW_ENCODINGS.get(message.encoding)
    if layout is None:
        raise UnsupportedEncodingError(
            message.encoding, f"image encoding '{message.encoding}' is not one of {', '.join(RAW_ENCODINGS)}"
        )
    height, width, step = message.height, message.width, message.step
    if height == 0 or width == 0:
        raise ImageConversionError(
            f"image is empty ({width}x{height} pixels): the publisher sent a message without pixels"
        )
    row_bytes = width * layout.bytes_per_pixel
    if step < row_bytes:
        raise ImageConversionError(
            f"image step {step} is smaller than width x bytes per pixel = {width} x {layout.bytes_per_pixel} = "
            f"{row_bytes} for '{message.encoding}': the publisher must set step to the bytes per row"
        )
    data = np.frombuffer(message.data, dtype=np.uint8)
    if data.size < step * height:
        raise ImageConversionError(
            f"image data holds {data.size} bytes, fewer than step x height = {step} x {height} = {step * height}: "
            "the message is truncated or its step/height are wrong"
        )
    rows = data[: step * height].reshape(height, step)[:, :row_bytes]
    dtype = np.dtype(layout.dtype).newbyteorder(">" if message.is_bigendian else "<")
    return rows.view(dtype).astype(layout.dtype, copy=False).reshape(height, width, layout.channels)


def decode_compressed(message: CompressedImageMessage, max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """The pixels of a JPEG or PNG CompressedImage: ``[h, w, c]`` uint8 (uint16 for 16-bit PNG), c in 1, 3, 4.

    Channels are in ``cv2.imdecode``'s order: mono, bgr or bgra. The size its header declares is checked against
    ``max_image_pixels`` before the decoder allocates anything; every decoder failure is an
    :class:`ImageConversionError`.
    """
    data = np.frombuffer(message.data, dtype=np.uint8)
    if data.size == 0:
        raise ImageConversionError(f"compressed image (format '{message.format}') has no data")
    width, height = declared_size(data, message.format)
    refuse_oversized(width, height, max_image_pixels, f"compressed image (format '{message.format}')")
    try:
        pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:  # OpenCV's own limits and allocation failures
        raise ImageConversionError(
            f"compressed image (format '{message.format}', {data.size} bytes) could not be decoded: "
            f"{str(error).strip().splitlines()[-1]}"
        ) from error
    if pixels is None:
        raise ImageConversionError(
            f"compressed image (format '{message.format}', {data.size} bytes) could not be decoded: "
            "the JPEG/PNG data is corrupt or truncated"
        )
    return pixels.reshape(pixels.shape[0], pixels.shape[1], -1)


def refuse_oversized(width: int, height: int, max_image_pixels: int, what: str) -> None:
    """Raise :class:`ImageConversionError` when an image of ``width`` x ``height`` is over ``max_image_pixels``."""
    if width * height > max_image_pixels:
        raise ImageConversionError(
            f"{what} declares {width}x{height} = {width * height} pixels, more than max_image_pixels = "
            f"{max_image_pixels}: refused before decoding (raise max_image_pixels for a camera that large)"
        )


def declared_size(data: np.ndarray, image_format: str) -> tuple[int, int]:
    """``(width, height)`` as the PNG ``IHDR`` chunk or the JPEG frame header (SOFn) in ``data`` (uint8, a
    CompressedImage of ``image_format``) declares it, read without decoding.

    Raises:
        ImageConversionError: the data is neither PNG nor JPEG, or has no such header where it must be.
    """
    head = data[:24].tobytes()
    if head.startswith(_PNG_SIGNATURE):
        if len(head) < 24 or head[12:16] != b"IHDR":
            raise ImageConversionError(
                f"PNG image (format '{image_format}', {data.size} bytes) could not be decoded: it does not start with "
                "its IHDR chunk (corrupt or truncated)"
            )
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head.startswith(_JPEG_SIGNATURE):
        frame_header = jpeg_frame_header(memoryview(data))
        if frame_header is None:
            raise ImageConversionError(
                f"JPEG image (format '{image_format}', {data.size} bytes) could not be decoded: it has no frame "
                "header (SOFn) before its image data (corrupt or truncated)"
            )
        height, width = struct.unpack_from(">HH", data, frame_header + 5)
        return width, height
    raise ImageConversionError(
        f"compressed image (format '{image_format}') is neither JPEG nor PNG: publish jpeg or png "
        "(compressedDepth and other formats are not supported)"
    )


def jpeg_frame_header(data: memoryview) -> int | None:
    """The offset of the first frame header (its SOFn marker) after SOI, walking the marker segments by their lengths
    as libjpeg does; None when a scan, the end of the image or anything but a marker comes first."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte before the marker
            position += 1
        elif marker in _JPEG_STANDALONE_MARKERS:
            position += 2
        elif marker in _JPEG_SCAN_OR_END or marker == 0x00:
            return None
        elif marker in _JPEG_FRAME_MARKERS:
            return position if position + 9 <= len(data) else None
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return None
