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

No ROS import: a message is read through its fields (:class:`RawImageMessage`, :class:`CompressedImageMessage`), so
rclpy's messages (the node), rosbags' (``eval``) and plain arrays (:meth:`ImageConverter.from_pixels`, ``bench``) all
go through the same conversion.
"""

from __future__ import annotations

import dataclasses
import functools
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
    """Turns image messages into :class:`ModelInput` for a model of one size and input format."""

    def __init__(self, height: int, width: int, input_format: InputFormat) -> None:
        self.height = height
        self.width = width
        self.input_format = input_format

    def from_image(self, message: RawImageMessage) -> ModelInput:
        """Convert a ``sensor_msgs/Image``; raises :class:`ImageConversionError` for a message it cannot use."""
        if message.encoding in RAW_ENCODINGS:
            pixels, order = decode_raw(message), RAW_ENCODINGS[message.encoding].order
        else:
            pixels, order = self._decode_with_cv_bridge(message), self.input_format.value
        return self.from_pixels(pixels, order)

    def from_compressed(self, message: CompressedImageMessage) -> ModelInput:
        """Convert a JPEG or PNG ``sensor_msgs/CompressedImage``; raises :class:`ImageConversionError` if unusable."""
        pixels = decode_compressed(message)
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


def decode_compressed(message: CompressedImageMessage) -> np.ndarray:
    """The pixels of a JPEG or PNG CompressedImage: ``[h, w, c]`` uint8 (uint16 for 16-bit PNG), c in 1, 3, 4.

    Channels are in ``cv2.imdecode``'s order: mono, bgr or bgra.
    """
    data = np.frombuffer(message.data, dtype=np.uint8)
    if data.size == 0:
        raise ImageConversionError(f"compressed image (format '{message.format}') has no data")
    header = data[:8].tobytes()
    if not (header.startswith(_JPEG_SIGNATURE) or header.startswith(_PNG_SIGNATURE)):
        raise ImageConversionError(
            f"compressed image (format '{message.format}') is neither JPEG nor PNG: publish jpeg or png "
            "(compressedDepth and other formats are not supported)"
        )
    pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageConversionError(
            f"compressed image (format '{message.format}', {data.size} bytes) could not be decoded: "
            "the JPEG/PNG data is corrupt or truncated"
        )
    return pixels.reshape(pixels.shape[0], pixels.shape[1], -1)
