# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Loading weights: DISK's (kornia's pretrained checkpoints, local checkpoints, seeded random weights), and what
LightGlue's loader (:mod:`~disk_trt_ros.export.lightglue_weights`) shares with it: seeded random modules, the
state-dict digest, the check that a state dict fits a module, reading a checkpoint file, and the check that weights
are those an exported model was made from."""

from __future__ import annotations

import hashlib
import io
import socket
from pathlib import Path
from typing import Callable, Mapping, TypeVar
from urllib.parse import urlparse

import torch
from kornia.feature import DISK
from kornia.feature.disk.disk import urls as kornia_checkpoint_urls

from disk_trt_ros.contract import RANDOM_WEIGHTS_PREFIX
from disk_trt_ros.errors import ContractError, WeightsError
from disk_trt_ros.files import MAX_MODEL_BYTES, read_regular_file

PRETRAINED = ("depth", "epipolar")
CONNECT_TIMEOUT_S = 5.0  # per download host, checked once before kornia's downloader (which retries each 3 times)
MAX_LISTED = 8  # keys named in a message about a checkpoint that does not fit

Module = TypeVar("Module", bound=torch.nn.Module)


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
        return random_disk(parse_seed(weights))
    if weights in PRETRAINED:
        return _pretrained_disk(weights)
    data = read_checkpoint_file(weights, "give 'depth', 'epipolar', 'random:SEED' or a checkpoint path")
    layout = "holds neither {'extractor': state_dict} (the DISK release format) nor a bare state dict"
    checkpoint = read_state_dict(data, weights, nested="extractor", layout=layout)
    return disk_from_state_dict(checkpoint, weights), hashlib.sha256(data).hexdigest()


def load_exported(
    load: Callable[[str], tuple[Module, str]], weights: str, expected_sha256: str, model: str, remedy: str
) -> Module:
    """The module ``load`` makes from ``weights``, checked to be the weights ``model`` was exported from.

    Args:
        load: :func:`load_disk` or :func:`~disk_trt_ros.export.lightglue_weights.load_lightglue`.
        weights: what ``load`` takes.
        expected_sha256: the model's ``weights_sha256`` (its metadata).
        model: how to name the model in the message (its path, or "the model").
        remedy: what the caller should do when the weights differ.

    Raises:
        WeightsError: the weights cannot be loaded.
        ContractError: they are not the weights the model was exported from.
    """
    module, sha256 = load(weights)
    if sha256 != expected_sha256:
        raise ContractError(
            f"weights '{weights}' have sha256 {sha256}, but {model} was exported from {expected_sha256}; {remedy}"
        )
    return module


def weights_of_model(
    load: Callable[[str], tuple[Module, str]], weights: str, expected_sha256: str, model_path: str, user: str
) -> Module:
    """The weights an exported model at ``model_path`` names, loaded for ``user`` (the torch backend, the torch
    matcher): :func:`load_exported`, with a :class:`WeightsError` turned into the :class:`ContractError` that the
    model cannot be run here."""
    try:
        remedy = f"give the {user} the checkpoint the model was exported from"
        return load_exported(load, weights, expected_sha256, model_path, remedy)
    except WeightsError as error:
        raise ContractError(f"the {user} needs the weights of {model_path}: {error}") from error


def random_disk(seed: int) -> tuple[DISK, str]:
    """DISK with weights drawn from ``torch.manual_seed(seed)``, and the sha256 of its state dict."""
    return seeded(DISK, seed)


def seeded(make: Callable[[], Module], seed: int) -> tuple[Module, str]:
    """``make()`` in eval mode with its weights drawn after ``torch.manual_seed(seed)`` (the global generator's state
    is restored after), and the sha256 of its state dict."""
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        module = make().eval()
    finally:
        torch.random.set_rng_state(generator_state)
    return module, state_dict_sha256(module.state_dict())


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
            f"{', '.join(broken[:MAX_LISTED])}{', ...' if len(broken) > MAX_LISTED else ''}; the checkpoint is "
            "corrupt or its training diverged: use another one"
        )


def state_dict_misfits(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], module: str, optional: tuple[str, ...] = ()
) -> list[str]:
    """What keeps ``given`` from loading into ``module`` (its name), whose state dict is ``expected``: the missing
    keys (less ``optional`` ones), the unexpected keys and the shape mismatches, each listed (the first few); empty
    when it fits."""
    missing = sorted(set(expected) - set(given) - set(optional))
    unexpected = sorted(set(given) - set(expected))
    mismatched = [
        f"{name}: checkpoint {tuple(given[name].shape)} vs {module} {tuple(expected[name].shape)}"
        for name in sorted(set(expected) & set(given))
        if tuple(given[name].shape) != tuple(expected[name].shape)
    ]
    parts = [
        f"{what} ({len(names)}): {', '.join(names[:MAX_LISTED])}"
        for what, names in (("missing keys", missing), ("unexpected keys", unexpected))
        if names
    ]
    if mismatched:
        parts.append(f"shape mismatches ({len(mismatched)}): {'; '.join(mismatched[:MAX_LISTED])}")
    return parts


def disk_from_state_dict(state_dict: Mapping[str, torch.Tensor], source: str) -> DISK:
    """kornia DISK with ``state_dict`` (weights from ``source``) loaded strictly; mismatches and non-finite values
    raise :class:`WeightsError` naming them."""
    disk = DISK()
    misfits = state_dict_misfits(disk.state_dict(), state_dict, "DISK")
    if misfits:
        raise WeightsError(
            "checkpoint does not fit kornia's DISK (128-d descriptors, default U-Net): " + " | ".join(misfits)
        )
    require_finite_weights(state_dict, source)
    disk.load_state_dict(dict(state_dict))
    return disk.eval()


def read_checkpoint_file(weights: str, choices: str) -> bytes:
    """The bytes of the checkpoint file ``weights`` (a regular file within :data:`~disk_trt_ros.files.MAX_MODEL_BYTES`);
    :class:`WeightsError` when it does not exist (saying ``choices``, what to give instead) or cannot be read."""
    try:
        return read_regular_file(weights, MAX_MODEL_BYTES, "checkpoint")
    except FileNotFoundError as error:
        raise WeightsError(f"weights {weights!r}: no such file; {choices}") from error
    except OSError as error:  # FileRefusedError names a FIFO, a device, a directory or a file too large
        raise WeightsError(f"weights {weights!r} cannot be read: {error}") from error


def read_state_dict(data: bytes, name: str, nested: str | None, layout: str) -> Mapping[str, torch.Tensor]:
    """The state dict a checkpoint file holds, bare or (``nested`` not None) under the key ``nested``
    (``{'extractor': ...}``, as DISK's release saves it); :class:`WeightsError` for a file that holds none, saying
    ``name`` and ``layout`` (what it should hold)."""
    try:
        checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several unrelated types for a file that is not a checkpoint
        raise WeightsError(f"{name} is not a readable PyTorch checkpoint: {first_line(error)}") from error
    if nested is not None and isinstance(checkpoint, Mapping) and nested in checkpoint:
        checkpoint = checkpoint[nested]
    if not isinstance(checkpoint, Mapping) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise WeightsError(f"{name} {layout}")
    return checkpoint


def download_failure(what: str, error: BaseException, local: str) -> WeightsError:
    """The error for a failed download of ``what``: the reason, and the ``local`` checkpoint to pass instead."""
    return WeightsError(
        f"could not download {what} ({first_line(error)}); on a machine without network access, pass the path of "
        f"{local} instead"
    )


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
        raise download_failure(
            f"kornia's pretrained '{name}' DISK weights", error, f"{name}-save.pth from the DISK release"
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


def parse_seed(weights: str) -> int:
    """The seed of ``random:SEED``; :class:`WeightsError` when it is not an integer."""
    try:
        return int(weights[len(RANDOM_WEIGHTS_PREFIX):])
    except ValueError as error:
        raise WeightsError(f"weights {weights!r}: the seed after 'random:' must be an integer") from error


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (torch's and the hub's run over several)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
