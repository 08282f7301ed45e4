# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Every error disk_trt_ros raises on purpose, under one base class, :class:`DiskTrtRosError`.

Each message names the problem and what to do about it. ``python -m disk_trt_ros COMMAND`` catches the base class
once and prints ``COMMAND: error: MESSAGE`` (exit status 1); an exception of any other class is a bug and keeps its
traceback. Each class also derives from the built-in exception it refines (``ValueError`` for input that cannot be
used, ``RuntimeError`` for a library or device that fails, ``FileNotFoundError``, ``OSError`` for a file that is
refused), so callers that catch those keep working.

This module imports nothing: every layer of the package may raise these.
"""

from __future__ import annotations


class DiskTrtRosError(Exception):
    """Base class of every error disk_trt_ros raises on purpose."""


# --- input that cannot be used ------------------------------------------------------------------------------------


class ContractError(DiskTrtRosError, ValueError):
    """A model, engine or input that does not follow the engine contract (:mod:`disk_trt_ros.contract`)."""


class ModelNotFoundError(DiskTrtRosError, FileNotFoundError):
    """The exported model named does not exist."""


class OptionsError(DiskTrtRosError, ValueError):
    """Settings that cannot work: a command's arguments, build settings, evaluation options, a backend name."""


class NodeConfigurationError(DiskTrtRosError, ValueError):
    """A parameter, launch argument or model that keeps the node from starting; names it and what is allowed."""


class WeightsError(DiskTrtRosError, ValueError):
    """A checkpoint that cannot be loaded into kornia's DISK."""


class PhotoError(DiskTrtRosError, ValueError):
    """Photographs that cannot be loaded; the message names the file or directory."""


class ImageConversionError(DiskTrtRosError, ValueError):
    """An image message that cannot become a model input: malformed, undecodable, or larger than the limit."""


class UnsupportedEncodingError(ImageConversionError):
    """An encoding this installation cannot convert (the node reports it once per encoding, not once per frame)."""

    def __init__(self, encoding: str, message: str) -> None:
        super().__init__(message)
        self.encoding = encoding


class InvalidOutputError(ContractError):
    """A backend's outputs for one frame break the contract (non-finite values, keypoints outside the frame, scores
    not descending, descriptors not of unit length, a count out of range): the frame has no usable features."""


class FileRefusedError(DiskTrtRosError, OSError):
    """A file that is not read: not a regular file (a FIFO, a device, a directory), larger than the limit for its
    kind, or owned by another user where that matters (the engine cache)."""


class KeypointsMessageError(DiskTrtRosError, ValueError):
    """A Keypoints message the matcher cannot take: arrays that disagree with its count, or other descriptors than
    DISK's."""


class BagError(DiskTrtRosError, ValueError):
    """A bag, topic or message that cannot be used, or a node that does not answer a replay."""


# --- libraries, devices and artefacts -----------------------------------------------------------------------------


class UnavailableError(DiskTrtRosError, RuntimeError):
    """Something this needs is not installed or not visible; the message says what to install."""


class TensorRTUnavailableError(UnavailableError):
    """The ``tensorrt`` Python package cannot be imported."""


class CudaUnavailableError(UnavailableError):
    """Neither pycuda nor cuda-python can be imported, or the CUDA device does not exist."""


class BackendUnavailableError(UnavailableError):
    """No inference backend is installed, or a library the chosen one needs is not."""


class LibraryMissingError(UnavailableError):
    """A third-party library a command or backend imports is not installed; the message says how to install it."""

    INSTALL_HINTS = {
        "onnxruntime": "pip install onnxruntime (onnxruntime-gpu for CUDA)",
        "torch": "pip install torch kornia",
        "kornia": "pip install kornia",
    }

    @classmethod
    def from_import_error(cls, needed_by: str, error: ModuleNotFoundError) -> LibraryMissingError | None:
        """The error for ``needed_by`` failing to import a library, or None when the missing module is this
        package's own (a broken installation, not a missing library)."""
        missing = (error.name or "").split(".")[0]
        if not missing or missing == __name__.partition(".")[0]:  # this package's own module: not a library
            return None
        hint = cls.INSTALL_HINTS.get(missing, f"pip install {missing}")
        return cls(f"{needed_by} needs {missing}, which is not installed here: {hint}")


class CudaError(DiskTrtRosError, RuntimeError):
    """A CUDA call failed; the message names the call and CUDA's error."""


class EngineCacheError(DiskTrtRosError, RuntimeError):
    """A TensorRT engine cannot be built, written or used."""


class InferenceError(DiskTrtRosError, RuntimeError):
    """A backend failed to run a frame."""
