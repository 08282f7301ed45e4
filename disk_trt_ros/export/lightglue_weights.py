# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""LightGlue weights for DISK: kornia's download, a local checkpoint, or seeded random weights (needs torch, kornia).

The checkpoint is what kornia downloads for ``LightGlue(features='disk')``: the LightGlue release's
``disk_lightglue.pth``, a bare state dict whose layer keys use the release's names (``self_attn.{i}.*``,
``cross_attn.{i}.*``). kornia renames them to its own (``transformers.{i}.self_attn.*``, ...), and so does
:func:`kornia_key_names`; a state dict saved from kornia's module loads as it is. The derived buffer
``confidence_thresholds`` may be absent (it is computed, and unused without early exit). What DISK's loader shares
with this one (random weights, digests, reading and fitting a checkpoint) is :mod:`disk_trt_ros.export.weights`.
"""

from __future__ import annotations

import hashlib
from typing import Mapping

import torch
from kornia.feature import LightGlue

from disk_trt_ros.contract import DESCRIPTOR_DIM, RANDOM_WEIGHTS_PREFIX
from disk_trt_ros.errors import WeightsError
from disk_trt_ros.export.weights import (
    download_failure,
    parse_seed,
    read_checkpoint_file,
    read_state_dict,
    require_finite_weights,
    seeded,
    state_dict_misfits,
    state_dict_sha256,
)

PRETRAINED = "disk"
DERIVED_BUFFERS = ("confidence_thresholds",)


def lightglue_for_disk(**conf: object) -> LightGlue:
    """kornia's LightGlue with DISK's configuration (``features='disk'``: 128-d descriptors), without weights, and
    with early exit and point pruning off (``depth_confidence=-1``, ``width_confidence=-1``) unless ``conf`` says
    otherwise."""
    settings: dict[str, object] = {"input_dim": DESCRIPTOR_DIM, "depth_confidence": -1, "width_confidence": -1}
    settings.update(conf)
    return LightGlue(features=None, **settings)


def load_lightglue(weights: str) -> tuple[LightGlue, str]:
    """LightGlue for DISK in eval mode from ``weights``, with the sha256 of what was loaded.

    Args:
        weights: ``disk`` (kornia's download of the release checkpoint, needs network access), the path of a
            checkpoint (``disk_lightglue.pth`` or a state dict of kornia's module), or ``random:SEED`` (seeded
            random weights, for tests and benchmarks: its matches mean nothing).

    Returns:
        The model, and the sha256 of the checkpoint file for a path, else of the loaded state dict.
    """
    if weights.startswith(RANDOM_WEIGHTS_PREFIX):
        return random_lightglue(parse_seed(weights))
    if weights == PRETRAINED:
        return _pretrained_lightglue()
    data = read_checkpoint_file(
        weights, f"give '{PRETRAINED}' (kornia's download), 'random:SEED' or the path of disk_lightglue.pth"
    )
    layout = "is not a state dict (name to tensor), as disk_lightglue.pth is"
    state_dict = read_state_dict(data, weights, nested=None, layout=layout)
    return lightglue_from_state_dict(state_dict, weights), hashlib.sha256(data).hexdigest()


def random_lightglue(seed: int) -> tuple[LightGlue, str]:
    """LightGlue for DISK with weights drawn after ``torch.manual_seed(seed)``, and the sha256 of its state dict."""
    return seeded(lightglue_for_disk, seed)


def kornia_key_names(state_dict: Mapping[str, torch.Tensor], n_layers: int) -> dict[str, torch.Tensor]:
    """The state dict with the release's key names changed to kornia's, as ``kornia.feature.LightGlue`` does."""
    prefix = "matcher."  # kornia strips it for every checkpoint (xfeat's nest their keys under it)
    renamed = {key[len(prefix):] if key.startswith(prefix) else key: value for key, value in state_dict.items()}
    for index in range(n_layers):
        for block in ("self_attn", "cross_attn"):
            old, new = f"{block}.{index}", f"transformers.{index}.{block}"
            renamed = {key.replace(old, new): value for key, value in renamed.items()}
    return renamed


def lightglue_from_state_dict(state_dict: Mapping[str, torch.Tensor], source: str) -> LightGlue:
    """LightGlue for DISK with ``state_dict`` (weights from ``source``) loaded; :class:`WeightsError` lists every key
    that does not fit, or every tensor that holds non-finite values."""
    lightglue = lightglue_for_disk()
    state = kornia_key_names(state_dict, lightglue.conf.n_layers)
    misfits = state_dict_misfits(lightglue.state_dict(), state, "LightGlue", optional=DERIVED_BUFFERS)
    if misfits:
        raise WeightsError(
            f"checkpoint does not fit kornia's LightGlue for DISK ({DESCRIPTOR_DIM}-d descriptors; a SuperPoint or "
            "ALIKED checkpoint does not): " + " | ".join(misfits)
        )
    require_finite_weights(state, source)
    lightglue.load_state_dict(state, strict=False)
    return lightglue.eval()


def _pretrained_lightglue() -> tuple[LightGlue, str]:
    try:
        lightglue = LightGlue(features=PRETRAINED, depth_confidence=-1, width_confidence=-1)
    except Exception as error:  # network and hub failures surface as many types
        raise download_failure(
            "kornia's LightGlue weights for DISK", error, "disk_lightglue.pth from the LightGlue release"
        ) from error
    require_finite_weights(lightglue.state_dict(), f"'{PRETRAINED}'")
    return lightglue.eval(), state_dict_sha256(lightglue.state_dict())
