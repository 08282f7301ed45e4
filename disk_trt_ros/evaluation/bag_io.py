# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Reading camera frames from bags and writing bags, with the pure-Python ``rosbags`` package (no ROS needed).

Bags: rosbag2 directories (sqlite3 or mcap storage) and ROS 1 ``.bag`` files, read through
:class:`rosbags.highlevel.AnyReader` and written through the rosbag2 or rosbag1 writer.

Ground-truth homographies (the one place this convention is defined):
    A bag may carry, next to an image topic ``T`` (``sensor_msgs/Image``, or ``sensor_msgs/CompressedImage`` on
    ``T/compressed``), the topic ``T/ground_truth_homography`` of ``std_msgs/Float64MultiArray`` messages. Each holds
    9 values, row-major, of the 3x3 homography that maps the scene plane's coordinates to the frame's pixel
    positions (x, y) with (0, 0) the centre of the top-left pixel; its layout names two dimensions, ``rows`` (3)
    and ``cols`` (3). It is written with the same bag (log) timestamp as the frame it belongs to; that timestamp
    pairs them, as ``Float64MultiArray`` has no header. The homography from frame a to frame b is then
    ``H_b @ inv(H_a)``. Frames without one simply get no ground-truth metrics.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Iterator

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import Connection
from rosbags.rosbag1 import Writer as Ros1Writer
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Ros2Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from disk_trt_ros.errors import BagError

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
HOMOGRAPHY_TYPE = "std_msgs/msg/Float64MultiArray"
KEYPOINTS_TYPE = "disk_trt_ros/msg/Keypoints"
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)
COMPRESSED_SUFFIX = "/compressed"
GROUND_TRUTH_SUFFIX = "/ground_truth_homography"


class BagFormat(str, enum.Enum):
    """Storage of a bag: rosbag2 with sqlite3 or mcap storage, or a ROS 1 ``.bag`` file."""

    SQLITE3 = "sqlite3"
    MCAP = "mcap"
    ROS1 = "ros1"


def ground_truth_topic(image_topic: str) -> str:
    """The ground-truth homography topic that belongs to an image topic (see the module docstring)."""
    base = image_topic[: -len(COMPRESSED_SUFFIX)] if image_topic.endswith(COMPRESSED_SUFFIX) else image_topic
    return base + GROUND_TRUTH_SUFFIX


def stamp_to_ns(stamp: Any) -> int:
    """Nanoseconds of a ``builtin_interfaces/Time`` (rosbags or rclpy message)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def keypoints_message_definition() -> str:
    """Text of ``msg/Keypoints.msg``: from the source tree, else from an installed package's share directory.

    Raises:
        BagError: when neither has it.
    """
    candidates = [Path(__file__).resolve().parents[2] / "msg" / "Keypoints.msg"]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / "disk_trt_ros" / "msg" / "Keypoints.msg")
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text()
    raise BagError(
        "msg/Keypoints.msg not found in the source tree or in AMENT_PREFIX_PATH; run 'make setup' and "
        "'source install/setup.sh' (or source your ROS 2 workspace)"
    )


def make_typestore(bag_format: BagFormat, with_keypoints: bool = False) -> Typestore:
    """The message types for writing a bag of ``bag_format``: ROS 2 Jazzy's or ROS 1 Noetic's standard types.

    With ``with_keypoints``, ``disk_trt_ros/msg/Keypoints`` is registered from its ``.msg`` definition.
    """
    typestore = get_typestore(Stores.ROS1_NOETIC if bag_format is BagFormat.ROS1 else Stores.ROS2_JAZZY)
    if with_keypoints:
        typestore.register(get_types_from_msg(keypoints_message_definition(), KEYPOINTS_TYPE))
    return typestore


def make_header(typestore: Typestore, stamp_ns: int, frame_id: str) -> Any:
    """A ``std_msgs/Header`` of the typestore's ROS version (ROS 1 headers also carry ``seq``)."""
    header_type = typestore.types["std_msgs/msg/Header"]
    time = typestore.types["builtin_interfaces/msg/Time"](
        sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000
    )
    if "seq" in header_type.__dataclass_fields__:
        return header_type(seq=0, stamp=time, frame_id=frame_id)
    return header_type(stamp=time, frame_id=frame_id)


def rgb8_image_message(typestore: Typestore, stamp_ns: int, frame_id: str, pixels: np.ndarray) -> Any:
    """A ``sensor_msgs/Image`` rgb8 of ``pixels`` (uint8 ``[height, width, 3]``), stamped ``stamp_ns``."""
    height, width = pixels.shape[:2]
    return typestore.types[IMAGE_TYPE](
        header=make_header(typestore, stamp_ns, frame_id), height=height, width=width, encoding="rgb8",
        is_bigendian=0, step=width * 3, data=np.ascontiguousarray(pixels, dtype=np.uint8).reshape(-1),
    )


def homography_message(typestore: Typestore, homography: np.ndarray) -> Any:
    """A ``std_msgs/Float64MultiArray`` holding a 3x3 homography, row-major."""
    dimension = typestore.types["std_msgs/msg/MultiArrayDimension"]
    layout = typestore.types["std_msgs/msg/MultiArrayLayout"](
        dim=[dimension(label="rows", size=3, stride=9), dimension(label="cols", size=3, stride=3)], data_offset=0
    )
    return typestore.types[HOMOGRAPHY_TYPE](layout=layout, data=np.asarray(homography, dtype=np.float64).reshape(9))


def homography_from_message(message: Any) -> np.ndarray:
    """The 3x3 homography in a ``std_msgs/Float64MultiArray``; raises :class:`BagError` if it holds something else."""
    data = np.asarray(message.data, dtype=np.float64)[message.layout.data_offset :]
    if data.size != 9 or not np.all(np.isfinite(data)):
        raise BagError(
            f"a ground-truth homography message holds {data.size} values (finite: {bool(np.all(np.isfinite(data)))}); "
            "it must hold 9 finite values, the 3x3 homography row-major"
        )
    homography = data.reshape(3, 3)
    if abs(np.linalg.det(homography)) < 1e-12:
        raise BagError("a ground-truth homography is singular; it must map the scene plane onto the frame")
    return homography


@dataclasses.dataclass(frozen=True)
class BagFrame:
    """One image message of a bag.

    Attributes:
        index: position on the topic, from 0.
        log_time_ns: the bag's timestamp of the message (recording time), nanoseconds.
        stamp_ns: the message's header stamp, nanoseconds.
        message: the deserialized ``sensor_msgs/Image`` or ``CompressedImage`` (rosbags object; same field
            names as rclpy's).
        compressed: whether ``message`` is a CompressedImage.
        scene_to_frame: ground-truth 3x3 homography from the scene plane to this frame, or None.
    """

    index: int
    log_time_ns: int
    stamp_ns: int
    message: Any
    compressed: bool
    scene_to_frame: np.ndarray | None


def homography_between(frame_a: BagFrame, frame_b: BagFrame) -> np.ndarray | None:
    """Ground-truth homography from frame a's pixels to frame b's, or None if either lacks ground truth."""
    if frame_a.scene_to_frame is None or frame_b.scene_to_frame is None:
        return None
    return frame_b.scene_to_frame @ np.linalg.inv(frame_a.scene_to_frame)


class ImageBag:
    """An image topic of a bag, read frame by frame with its ground truth.

    Use as a context manager::

        with ImageBag(path, "/camera/image_raw") as bag:
            for frame in bag.frames(max_frames=100):
                ...
    """

    def __init__(self, path: str | os.PathLike[str], topic: str, ground_truth: str | None = None) -> None:
        """Open ``topic`` of the bag at ``path``; ``ground_truth`` overrides the ground-truth topic's name.

        Raises:
            BagError: the bag cannot be read, the topic is missing or is not an image topic.
        """
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag {self.path} does not exist; give a rosbag2 directory or a ROS 1 .bag file")
        self.topic = topic
        self.ground_truth_topic = ground_truth or ground_truth_topic(topic)
        try:
            self._reader = AnyReader([self.path], default_typestore=get_typestore(Stores.ROS2_JAZZY))
            self._reader.open()
        except (AnyReaderError, OSError, ValueError) as error:
            raise BagError(f"cannot read bag {self.path}: {error}") from error
        self._connections = [c for c in self._reader.connections if c.topic == topic]
        image_topics = sorted({c.topic for c in self._reader.connections if c.msgtype in IMAGE_TYPES})
        if not self._connections:
            self.close()
            raise BagError(
                f"bag {self.path} has no topic {topic!r}; its image topics are: {', '.join(image_topics) or 'none'}"
            )
        msgtypes = {c.msgtype for c in self._connections}
        if len(msgtypes) != 1 or not msgtypes <= set(IMAGE_TYPES):
            self.close()
            raise BagError(
                f"topic {topic!r} carries {', '.join(sorted(msgtypes))}, not sensor_msgs/Image or "
                f"sensor_msgs/CompressedImage; image topics in this bag: {', '.join(image_topics) or 'none'}"
            )
        self.compressed = msgtypes == {COMPRESSED_IMAGE_TYPE}

    @property
    def frame_count(self) -> int:
        """Number of messages on the image topic."""
        return sum(c.msgcount for c in self._connections)

    @property
    def duration_s(self) -> float:
        """Seconds between the first and the last message of the bag."""
        return (self._reader.end_time - self._reader.start_time) / 1e9

    def frames(
        self,
        max_frames: int | None = None,
        on_unreadable: Callable[[int, str], None] | None = None,
        on_read_error: Callable[[str], None] | None = None,
    ) -> Iterator[BagFrame]:
        """Yield the topic's frames in bag order, each with its ground-truth homography when the bag has one.

        A damaged bag: a message that does not deserialize raises :class:`BagError`, or, with ``on_unreadable``,
        is passed to it as ``(index, reason)`` and skipped. Storage that cannot be read further (a corrupt page of a
        sqlite3 bag, a damaged mcap chunk: rosbags raises while iterating) raises :class:`BagError`, or, with
        ``on_read_error``, is passed to it as a reason and ends the frames (where the ground truth cannot be read
        further, the later frames have none).
        """
        homographies = self._read_ground_truth(on_read_error)
        limit = self.frame_count if max_frames is None else min(max_frames, self.frame_count)
        if limit == 0:
            return

        def stopped(index: int, error: str) -> str:
            return (f"the bag cannot be read past message {index} on {self.topic!r} ({error}); the {limit - index} "
                    "frames from there on were not read")

        for index, (connection, log_time, raw) in enumerate(self._read(self._connections, stopped, on_read_error)):
            try:
                message = self._reader.deserialize(raw, connection.msgtype)
            except AnyReaderError as error:
                reason = f"message {index} on {self.topic!r} cannot be deserialized: {error}"
                if on_unreadable is None:
                    raise BagError(reason) from error
                on_unreadable(index, reason)
                if index + 1 >= limit:
                    return
                continue
            yield BagFrame(
                index=index,
                log_time_ns=log_time,
                stamp_ns=stamp_to_ns(message.header.stamp),
                message=message,
                compressed=self.compressed,
                scene_to_frame=homographies.get(log_time),
            )
            if index + 1 >= limit:
                return

    def _read(
        self,
        connections: list[Connection],
        describe: Callable[[int, str], str],
        on_read_error: Callable[[str], None] | None,
    ) -> Iterator[tuple[Connection, int, bytes]]:
        """The raw messages of ``connections`` in bag order, until the storage fails: then ``describe(messages read,
        error)`` goes to ``on_read_error`` (or is raised as a :class:`BagError`) and the messages end."""
        messages = self._reader.messages(connections=connections)
        read = 0
        while True:
            try:
                item = next(messages)
            except StopIteration:
                return
            except Exception as error:  # storage plugins raise their own types (apsw.CorruptError, mcap's, zstd's)
                reason = describe(read, f"{type(error).__name__}: {error}")
                if on_read_error is None:
                    raise BagError(reason) from error
                on_read_error(reason)
                return
            read += 1
            yield item

    def _read_ground_truth(self, on_read_error: Callable[[str], None] | None) -> dict[int, np.ndarray]:
        """Ground-truth homographies by bag timestamp (empty when the bag has none; those before a storage failure
        when it has one, see :meth:`frames`)."""
        connections = [c for c in self._reader.connections if c.topic == self.ground_truth_topic]
        if not connections:
            return {}
        if any(c.msgtype != HOMOGRAPHY_TYPE for c in connections):
            raise BagError(f"ground-truth topic {self.ground_truth_topic!r} must carry {HOMOGRAPHY_TYPE}")

        def stopped(index: int, error: str) -> str:
            return (f"the ground truth on {self.ground_truth_topic!r} cannot be read past message {index} ({error}); "
                    "later frames have none")

        return {
            log_time: homography_from_message(self._reader.deserialize(raw, connection.msgtype))
            for connection, log_time, raw in self._read(connections, stopped, on_read_error)
        }

    def close(self) -> None:
        if self._reader.stack is not None:
            self._reader.close()

    def __enter__(self) -> ImageBag:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class BagWriter:
    """Writes a new bag atomically: into a hidden temporary path beside ``path``, renamed onto it on success.

    An existing ``path`` is refused unless ``overwrite``; on an exception nothing is left behind. Use as a
    context manager; :meth:`add_topic` then :meth:`write`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        bag_format: BagFormat,
        *,
        with_keypoints: bool = False,
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.bag_format = bag_format
        if bag_format is BagFormat.ROS1 and self.path.suffix != ".bag":
            raise BagError(f"a ROS 1 bag's file name must end in .bag, got {self.path}")
        if bag_format is not BagFormat.ROS1 and self.path.suffix == ".bag":
            raise BagError(f"{self.path} ends in .bag, the ROS 1 format; a rosbag2 bag is a directory")
        if self.path.exists() and not overwrite:
            raise BagError(f"{self.path} exists already; remove it or choose another output path")
        self.typestore = make_typestore(bag_format, with_keypoints)
        self._staging: Path | None = None
        self._writer: Ros1Writer | Ros2Writer | None = None

    def __enter__(self) -> BagWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent))
        staged = self._staging / self.path.name  # rosbag2 names its storage files after the directory
        if self.bag_format is BagFormat.ROS1:
            self._writer = Ros1Writer(staged)
        else:
            plugin = StoragePlugin.MCAP if self.bag_format is BagFormat.MCAP else StoragePlugin.SQLITE3
            self._writer = Ros2Writer(staged, version=Ros2Writer.VERSION_LATEST, storage_plugin=plugin)
        self._writer.open()
        return self

    def add_topic(self, topic: str, msgtype: str) -> Connection:
        """Register a topic of ``msgtype`` (a name known to :attr:`typestore`)."""
        assert self._writer is not None, "use BagWriter as a context manager"
        return self._writer.add_connection(topic, msgtype, typestore=self.typestore)

    def write(self, connection: Connection, log_time_ns: int, message: Any) -> None:
        """Serialize ``message`` (a :attr:`typestore` object) for the bag's ROS version and write it."""
        assert self._writer is not None, "use BagWriter as a context manager"
        if self.bag_format is BagFormat.ROS1:
            data = self.typestore.serialize_ros1(message, connection.msgtype)
        else:
            data = self.typestore.serialize_cdr(message, connection.msgtype)
        self._writer.write(connection, log_time_ns, data)

    def write_cdr(self, connection: Connection, log_time_ns: int, data: bytes) -> None:
        """Write a message already serialized as CDR (as rclpy delivers it on a raw subscription)."""
        assert self._writer is not None, "use BagWriter as a context manager"
        if self.bag_format is BagFormat.ROS1:
            data = bytes(self.typestore.cdr_to_ros1(data, connection.msgtype))
        self._writer.write(connection, log_time_ns, data)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        assert self._writer is not None and self._staging is not None
        try:
            if error is not None:
                self._writer.abort()
            else:
                self._writer.close()
                if self.path.is_dir():
                    shutil.rmtree(self.path)
                elif self.path.exists():
                    self.path.unlink()
                os.replace(self._staging / self.path.name, self.path)
        finally:
            shutil.rmtree(self._staging, ignore_errors=True)
