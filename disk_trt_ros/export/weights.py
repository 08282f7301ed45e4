# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Loading DISK weights: kornia's pretrained checkpoints, local checkpoints, or seeded random weights."""

from __future__ import annotations

import hashlib
import io
import socket
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

import torch
from kornia.feature import DISK
from kornia.feature.disk.disk import urls as kornia_checkpoint_urls

from disk_trt_ros.contract import RANDOM_WEIGHTS_PREFIX
from disk_trt_ros.errors import ContractError, WeightsError
from disk_trt_ros.files import MAX_MODEL_BYTES, read_regular_file

PRETRAINED = ("depth", "epipolar")
CONNECT_TIMEOUT_S = 5.0  # per download host, checked once before kornia's downloader (which retries each 3 times)


def load_disk(weights: str) -> tuple[DISK, str]:
    """Load DISK in eval mode from ``weights`` and return it with the sha256 of what was loaded.

    Args:
        weights: ``depth`` or ``epipolar`` (kornia's pretrained download, needs network access), a path to a
            checkpoint (the original ``{'extractor': state_dict}`` format or a bare state dict), or ``random:SEED``
            (seeded random weights for tests and demos: its keypoints mean nothing).

    Returns:
        The model and a sha256 hex digest: of the checkpoint file for a path, else of the loaded state dict
        (:func:`state_dict_sha256`), for kornia's download and for random weights.
    """
    if weights.startswith(RANDOM_WEIGHTS_PREFIX):
        return random_disk(_parse_seed(weights))
    if weights in PRETRAINED:
        return _pretrained_disk(weights)
    try:
        data = read_regular_file(weights, MAX_MODEL_BYTES, "checkpoint")
    except FileNotFoundError as error:
        raise WeightsError(
            f"weights {weights!r}: no such file; give 'depth', 'epipolar', 'random:SEED' or a checkpoint path"
        ) from error
    except OSError as error:  # FileRefusedError names a FIFO, a device, a directory or a file too large
        raise WeightsError(f"weights {weights!r} cannot be read: {error}") from error
    return disk_from_state_dict(_read_checkpoint(data, weights), weights), hashlib.sha256(data).hexdigest()


def load_exported_disk(weights: str, expected_sha256: str, model: str, remedy: str) -> DISK:
    """DISK from ``weights``, checked to be the weights ``model`` was exported from.

    Args:
        weights: as for :func:`load_disk`.
        expected_sha256: the model's ``weights_sha256`` (its metadata).
        model: how to name the model in the message (its path, or "the model").
        remedy: what the caller should do when the weights differ.

    Raises:
        WeightsError: the weights cannot be loaded.
        ContractError: they are not the weights the model was exported from.
    """
    disk, sha256 = load_disk(weights)
    if sha256 != expected_sha256:
        raise ContractError(
            f"weights '{weights}' have sha256 {sha256}, but {model} was exported from {expected_sha256}; {remedy}"
        )
    return disk


def random_disk(seed: int) -> tuple[DISK, str]:
    """DISK with weights drawn from ``torch.manual_seed(seed)``, and the sha256 of its state dict."""
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        disk = DISK().eval()
    finally:
        torch.random.set_rng_state(generator_state)
    return disk, state_dict_sha256(disk.state_dict())


def state_dict_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 over the names and raw bytes of a state dict's tensors, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def require_finite_weights(state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise :class:`WeightsError` naming every tensor of ``state_dict`` (weights from ``source``) that holds a NaN
    or an infinity: such weights make NaN keypoints and descriptors, whatever the image."""
    broken = []
    for name in sorted(state_dict):
        tensor = state_dict[name]
        if tensor.is_floating_point() or tensor.is_complex():
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                broken.append(f"'{name}' ({bad} of {tensor.numel()} values)")
    if broken:
        raise WeightsError(
            f"weights {source} hold values that are not finite (NaN or infinite) in {len(broken)} tensors: "
            f"{', '.join(broken[:8])}{', ...' if len(broken) > 8 else ''}; the checkpoint is corrupt or its training "
            "diverged: use another one"
        )


def disk_from_state_dict(state_dict: Mapping[str, torch.Tensor], source: str) -> DISK:
    """kornia DISK with ``state_dict`` (weights from ``source``) loaded strictly; mismatches and non-finite values
    raise :class:`WeightsError` naming them."""
    disk = DISK()
    expected = disk.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [
        f"{name}: checkpoint {tuple(state_dict[name].shape)} vs DISK {tuple(expected[name].shape)}"
        for name in sorted(set(expected) & set(state_dict))
        if tuple(state_dict[name].shape) != tuple(expected[name].shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {', '.join(missing[:8])}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:8])}")
        if mismatched:
            parts.append(f"shape mismatches ({len(mismatched)}): {'; '.join(mismatched[:8])}")
        raise WeightsError(
            "checkpoint does not fit kornia's DISK (128-d descriptors, default U-Net): " + " | ".join(parts)
        )
    require_finite_weights(state_dict, source)
    disk.load_state_dict(dict(state_dict))
    return disk.eval()


def _read_checkpoint(data: bytes, name: str) -> Mapping[str, torch.Tensor]:
    try:
        checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several unrelated types for a file that is not a checkpoint
        raise WeightsError(f"{name} is not a readable PyTorch checkpoint: {error}") from error
    if isinstance(checkpoint, Mapping) and "extractor" in checkpoint:
        checkpoint = checkpoint["extractor"]
    if not isinstance(checkpoint, Mapping) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise WeightsError(
            f"{name} holds neither {{'extractor': state_dict}} (the DISK release format) nor a bare state dict"
        )
    return checkpoint


def _pretrained_disk(name: str) -> tuple[DISK, str]:
    unreachable = _unreachable_download(name)
    if unreachable:
        raise WeightsError(
            f"kornia's pretrained '{name}' DISK weights are not downloaded yet and {unreachable} cannot be reached "
            f"(no network access?); pass a local checkpoint path ({name}-save.pth from the DISK release) instead"
        )
    try:
        disk = DISK.from_pretrained(name)
    except Exception as error:  # network and hub failures surface as many types
        raise WeightsError(
            f"could not download kornia's pretrained '{name}' DISK weights ({error}); on a machine without network "
            f"access, pass a local checkpoint path ({name}-save.pth from the DISK release) instead"
        ) from error
    require_finite_weights(disk.state_dict(), f"'{name}'")
    return disk.eval(), state_dict_sha256(disk.state_dict())


def _unreachable_download(name: str) -> str:
    """The download hosts of kornia's ``name`` checkpoint, when it is not in torch's cache and none of them answers
    (one connection attempt each); else an empty string."""
    sources = kornia_checkpoint_urls[name]
    urls = [sources] if isinstance(sources, str) else list(sources)
    cached = Path(torch.hub.get_dir(), "checkpoints", Path(urlparse(urls[0]).path).name)
    if cached.is_file():
        return ""
    hosts = list(dict.fromkeys(urlparse(url).hostname or "" for url in urls))
    for host in hosts:
        try:
            socket.create_connection((host, 443), timeout=CONNECT_TIMEOUT_S).close()
            return ""
        except OSError:
            continue
    return " or ".join(hosts)


def _parse_seed(weights: str) -> int:
    try:
        return int(weights[len(RANDOM_WEIGHTS_PREFIX):])
    except ValueError as error:
        raise WeightsError(f"weights {weights!r}: the seed after 'random:' must be an integer") from error
