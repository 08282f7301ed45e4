# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""LightGlue for DISK as one static torch module over fixed-size keypoint slots, exportable to a TensorRT-8.2-clean
ONNX graph (needs torch and kornia).

It computes what ``kornia.feature.LightGlue(features='disk', depth_confidence=-1, width_confidence=-1)`` computes on
the valid keypoints of each image, with kornia's weights and kornia's operations in kornia's order, and these
static choices:

- **No early exit, no point pruning**: all ``n_layers`` layers run on every point (kornia's ``depth_confidence=-1``
  and ``width_confidence=-1``). In a graph of fixed shapes neither would save time (a pruned point would be masked,
  not removed), and both only trade matches for speed.
- **Invalid slots are masked**: slots from ``num_keypoints`` on are zeroed on entry (so their contents cannot
  matter), are keys no query attends to (their attention logits are :data:`MASKED_LOGIT`), and their rows and
  columns of the assignment are :data:`MASKED_LOGIT` too, so they take no part in either softmax and are never
  matched. ``exp(MASKED_LOGIT)`` is exactly 0 in float32; the value is finite and inside float16's range, so a fully
  masked row stays finite (no NaN to spread).
- **Assignment**: only the ``K x K`` block of kornia's ``(K+1) x (K+1)`` log assignment is built (``filter_matches``
  reads only that block); ``logsigmoid(z)`` is written ``min(z, 0) - log(1 + exp(-|z|))``, which neither overflows
  nor needs Softplus. ``filter_matches``' maxima become ReduceMax/ArgMax over the fixed ``K`` slots, its mutual check
  a GatherElements and an Equal, its thresholding Where: no NonZero, no data-dependent shape.
- Attention is written out (MatMul, Where, Softmax, MatMul) instead of ``scaled_dot_product_attention`` (which the
  torch matcher uses, with the same mask); both images go through the self-attention and feed-forward layers as one
  batch of two.

Ties: ArgMax returns the first of equal maxima, as ``torch.max`` does in kornia; exact ties of float scores do not
occur in practice. Rounding differs from kornia's (reduction orders, masked sums), so a match decided by a near-tie
may differ: docs/matching.md reports how often.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.feature import LightGlue
from torch import nn

from disk_trt_ros.contract import DESCRIPTOR_DIM
from disk_trt_ros.errors import ContractError
from disk_trt_ros.matcher_contract import NO_MATCH, MatcherInfo

# Logit of a masked attention key or assignment entry: exp() of it underflows to exactly 0 in float32 (below -104).
MASKED_LOGIT = -1.0e4


def log_sigmoid(values: torch.Tensor) -> torch.Tensor:
    """``log(sigmoid(values))`` without overflow for any finite input, in elementary operations."""
    return torch.clamp(values, max=0.0) - torch.log(1.0 + torch.exp(-torch.abs(values)))


def rotate_pairs(values: torch.Tensor) -> torch.Tensor:
    """kornia's ``rotate_half``: each channel pair ``(a, b)`` of the last axis becomes ``(-b, a)``; static shapes."""
    *leading, channels = values.shape
    pairs = values.reshape(*leading, channels // 2, 2)
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).reshape(*leading, channels)


def repeat_each_twice(values: torch.Tensor) -> torch.Tensor:
    """``values.repeat_interleave(2, dim=-1)`` with static shapes: ``[..., C]`` to ``[..., 2C]``."""
    *leading, channels = values.shape
    return torch.stack((values, values), dim=-1).reshape(*leading, 2 * channels)


def masked_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, key_valid: torch.Tensor, scale: float, fused: bool
) -> torch.Tensor:
    """``softmax(scale * query key^T) value`` over the valid keys only.

    Args:
        query, key, value: ``[B, H, K, D]``.
        key_valid: bool ``[B, 1, 1, K]``.
        fused: use torch's ``scaled_dot_product_attention`` (masked keys get :data:`MASKED_LOGIT` added), faster in
            torch but not exportable at opset 13; else MatMul, Where, Softmax, MatMul, as in the ONNX graph.

    Returns:
        ``[B, H, K, D]``; a query with no valid key gets the mean of all values (finite, and never read).
    """
    if fused:
        bias = torch.where(key_valid, 0.0, MASKED_LOGIT)
        return F.scaled_dot_product_attention(query, key, value, attn_mask=bias, scale=scale)
    logits = torch.matmul(query, key.transpose(-1, -2))
    if scale != 1.0:
        logits = logits * scale
    return torch.matmul(F.softmax(torch.where(key_valid, logits, MASKED_LOGIT), dim=-1), value)


class StaticLightGlue(nn.Module):
    """kornia's LightGlue for DISK between two images' keypoint slots, with the matcher contract's inputs and outputs.

    Args:
        lightglue: kornia LightGlue built for 128-d descriptors (``input_dim=128``), weights loaded; its modules are
            used as they are.
        info: the export settings: image size (for the keypoint normalisation), K, filter threshold.

    Attributes:
        fused_attention: run attention with torch's ``scaled_dot_product_attention`` (the torch matcher does); off for
            the export, whose graph spells attention out.

    Forward:
        keypoints0, keypoints1: float32 ``[1, K, 2]`` (x, y) pixels in the ``info.width x info.height`` frame.
        descriptors0, descriptors1: float32 ``[1, K, 128]``.
        num_keypoints0, num_keypoints1: int32 ``[1]``.
        Returns ``matches0`` int32 ``[1, K]`` (slot in image 1, or -1) and ``scores0`` float32 ``[1, K]`` (match
        probability above ``info.filter_threshold``, 0 where unmatched).
    """

    def __init__(self, lightglue: LightGlue, info: MatcherInfo) -> None:
        super().__init__()
        info.validate()
        conf = lightglue.conf
        if conf.input_dim != DESCRIPTOR_DIM or conf.add_scale_ori or conf.add_laf:
            raise ContractError(
                f"this LightGlue takes {conf.input_dim}-d descriptors (add_scale_ori={conf.add_scale_ori}, "
                f"add_laf={conf.add_laf}); DISK's needs input_dim={DESCRIPTOR_DIM} and keypoint positions only"
            )
        self.info = info
        self.fused_attention = False
        self.heads = conf.num_heads
        self.descriptor_dim = conf.descriptor_dim
        self.input_proj = lightglue.input_proj
        self.frequencies = lightglue.posenc.Wr
        self.transformers = lightglue.transformers
        self.assignment = lightglue.log_assignment[conf.n_layers - 1]
        k = info.max_keypoints
        # kornia's normalize_keypoints for image_size (W, H): (k - size / 2) / (max(size) / 2)
        self.register_buffer("image_centre", torch.tensor([info.width / 2, info.height / 2]), persistent=False)
        self.register_buffer("image_half_extent", torch.tensor(max(info.width, info.height) / 2), persistent=False)
        self.register_buffer("slot_position", torch.arange(k, dtype=torch.float32), persistent=False)
        self.register_buffer("slot_index", torch.arange(k, dtype=torch.int64)[None], persistent=False)

    def forward(
        self,
        keypoints0: torch.Tensor,
        descriptors0: torch.Tensor,
        num_keypoints0: torch.Tensor,
        keypoints1: torch.Tensor,
        descriptors1: torch.Tensor,
        num_keypoints1: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        valid, log_assignment = self.assign(
            torch.cat([keypoints0, keypoints1]), torch.cat([descriptors0, descriptors1]),
            torch.cat([num_keypoints0, num_keypoints1]),
        )
        return self.filter_matches(log_assignment, valid)

    def assign(
        self, keypoints: torch.Tensor, descriptors: torch.Tensor, num_keypoints: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both images' inputs stacked (``[2, K, 2]``, ``[2, K, 128]``, ``[2]``) to the valid slots, bool ``[2, K]``
        (image, slot), and the log assignment ``[1, K, K]``: kornia's ``log_assignment[:, :-1, :-1]`` on the valid
        rows and columns, :data:`MASKED_LOGIT` elsewhere."""
        valid = self.slot_position[None, :] < num_keypoints.to(torch.float32)[:, None]
        keypoints = torch.where(valid[:, :, None], keypoints, 0.0)
        descriptors = torch.where(valid[:, :, None], descriptors, 0.0)
        cosines, sines = self.rotary_encoding((keypoints - self.image_centre) / self.image_half_extent)
        key_valid = valid[:, None, None, :]
        features = self.input_proj(descriptors)  # [2, K, descriptor_dim]
        for layer in self.transformers:
            features = self.self_attention(layer.self_attn, features, cosines, sines, key_valid)
            features = self.cross_attention(layer.cross_attn, features, key_valid)
        return valid, self.log_assignment(features, valid)

    def rotary_encoding(self, normalised: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """kornia's LearnableFourierPositionalEncoding: cosines and sines ``[2, 1, K, head_dim]``, each frequency
        repeated for the two channels of a pair (kornia's ``repeat_interleave``, as a static Reshape)."""
        projected = self.frequencies(normalised)[:, None]  # [2, 1, K, head_dim / 2]
        return repeat_each_twice(torch.cos(projected)), repeat_each_twice(torch.sin(projected))

    def split_heads(self, values: torch.Tensor) -> torch.Tensor:
        """``[B, K, heads * head_dim]`` to ``[B, heads, K, head_dim]``."""
        batch, slots, _ = values.shape
        return values.reshape(batch, slots, self.heads, -1).transpose(1, 2)

    def merge_heads(self, values: torch.Tensor) -> torch.Tensor:
        """``[B, heads, K, head_dim]`` to ``[B, K, heads * head_dim]``."""
        batch, _, slots, _ = values.shape
        return values.transpose(1, 2).reshape(batch, slots, self.descriptor_dim)

    def self_attention(
        self, block: nn.Module, features: torch.Tensor, cosines: torch.Tensor, sines: torch.Tensor,
        key_valid: torch.Tensor,
    ) -> torch.Tensor:
        """kornia's SelfBlock on both images at once: ``[2, K, D]`` to ``[2, K, D]``."""
        batch, slots, _ = features.shape
        qkv = block.Wqkv(features).reshape(batch, slots, self.heads, -1, 3).transpose(1, 2)
        query, key, value = qkv[..., 0], qkv[..., 1], qkv[..., 2]
        query = query * cosines + rotate_pairs(query) * sines
        key = key * cosines + rotate_pairs(key) * sines
        context = masked_attention(query, key, value, key_valid, block.head_dim**-0.5, self.fused_attention)
        message = block.out_proj(self.merge_heads(context))
        return features + block.ffn(torch.cat([features, message], dim=-1))

    def cross_attention(self, block: nn.Module, features: torch.Tensor, key_valid: torch.Tensor) -> torch.Tensor:
        """kornia's CrossBlock (its CPU path): each image attends to the other; ``[2, K, D]`` to ``[2, K, D]``."""
        query_key = self.split_heads(block.to_qk(features)) * block.scale**0.5
        value = self.split_heads(block.to_v(features))
        if self.fused_attention:
            messages = torch.cat([
                masked_attention(query_key[0:1], query_key[1:2], value[1:2], key_valid[1:2], 1.0, fused=True),
                masked_attention(query_key[1:2], query_key[0:1], value[0:1], key_valid[0:1], 1.0, fused=True),
            ])
        else:  # the similarity is computed once for both directions, as kornia does
            similarity = torch.matmul(query_key[0:1], query_key[1:2].transpose(-1, -2))  # [1, heads, K0, K1]
            attention01 = F.softmax(torch.where(key_valid[1:2], similarity, MASKED_LOGIT), dim=-1)
            attention10 = F.softmax(torch.where(key_valid[0:1], similarity.transpose(-1, -2), MASKED_LOGIT), dim=-1)
            messages = torch.cat([torch.matmul(attention01, value[1:2]), torch.matmul(attention10, value[0:1])])
        messages = block.to_out(self.merge_heads(messages))
        return features + block.ffn(torch.cat([features, messages], dim=-1))

    def log_assignment(self, features: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """kornia's last MatchAssignment, masked: ``[2, K, D]`` features to the ``[1, K, K]`` log assignment."""
        projected = self.assignment.final_proj(features) / self.descriptor_dim**0.25
        similarity = torch.matmul(projected[0:1], projected[1:2].transpose(-1, -2))  # [1, K0, K1]
        certainty = log_sigmoid(self.assignment.matchability(features))  # [2, K, 1]
        pair_valid = valid[0:1, :, None] & valid[1:2, None, :]
        similarity = torch.where(pair_valid, similarity, MASKED_LOGIT)
        log_assignment = (
            F.log_softmax(similarity, dim=2) + F.log_softmax(similarity, dim=1)
            + (certainty[0:1] + certainty[1:2].transpose(1, 2))
        )
        return torch.where(pair_valid, log_assignment, MASKED_LOGIT)

    def filter_matches(self, log_assignment: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """kornia's ``filter_matches`` in fixed shapes: ``matches0`` int32 ``[1, K]``, ``scores0`` float ``[1, K]``."""
        best_log_probability = log_assignment.amax(dim=2)  # [1, K0]
        best1 = log_assignment.argmax(dim=2)  # [1, K0]: for each slot of image 0, its best slot of image 1
        best0 = log_assignment.argmax(dim=1)  # [1, K1]
        mutual = best0.gather(1, best1) == self.slot_index
        probability = torch.exp(best_log_probability)
        matched = mutual & valid[0:1] & (probability > self.info.filter_threshold)
        return torch.where(matched, best1.to(torch.int32), NO_MATCH), torch.where(matched, probability, 0.0)
