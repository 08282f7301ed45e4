# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The exported graph in ONNX Runtime against kornia's DISK (kornia 0.9) on real photos, noise and low contrast."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("kornia", reason="kornia is not installed (pip install kornia)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import numpy as np

from disk_trt_ros.contract import InputFormat, InstanceNorm, TrtCompat
from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
from support.images import in_format, load_photo, low_contrast, noise_image, reference_rgb
from support.paths import shared_photo_paths
from support.reference import assert_matches_reference, kornia_features


def check_against_kornia(model, image: np.ndarray) -> None:
    backend = OnnxRuntimeBackend(str(model.path), threads=2)
    ours = backend.run(image)
    reference = kornia_features(model.disk, reference_rgb(image, model.info.input_format), model.info)
    result = assert_matches_reference(ours, reference, model.info)
    if result.differing:
        print(f"float ties vs kornia: {result.explain()}")
    assert ours.count == reference.count <= model.info.max_keypoints
    assert np.all(np.diff(ours.scores) <= 0), "scores are not in descending order"


@pytest.mark.parametrize("size", [(128, 160), (240, 320)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("max_keypoints", [64, 512])
def test_photos_match_kornia(export_model, size, max_keypoints):
    model = export_model(height=size[0], width=size[1], max_keypoints=max_keypoints)
    for path in shared_photo_paths():
        check_against_kornia(model, load_photo(path, *size))


@pytest.mark.parametrize("trt_compat", list(TrtCompat), ids=lambda c: f"trt{c.value}")
@pytest.mark.parametrize("input_format", list(InputFormat), ids=lambda f: f.value)
def test_every_input_format_and_dtype(export_model, trt_compat, input_format):
    model = export_model(max_keypoints=512, input_format=input_format, trt_compat=trt_compat)
    assert model.info.input_dtype == ("float32" if trt_compat is TrtCompat.TRT_8_2 else "uint8")
    photo = load_photo(shared_photo_paths()[0], 128, 160)
    for rgb in (photo, noise_image(128, 160, seed=3)):
        check_against_kornia(model, in_format(rgb, input_format))


@pytest.mark.parametrize("seed", [1, 2])
def test_noise_and_low_contrast_match_kornia(export_model, seed):
    model = export_model(seed=seed, height=240, width=320, max_keypoints=512)
    check_against_kornia(model, noise_image(240, 320, seed=seed))
    check_against_kornia(model, low_contrast(load_photo(shared_photo_paths()[1], 240, 320)))


def test_decomposed_instance_norms_match_kornia(export_model):
    """The U-Net's instance norms written as plain ONNX operators (--instance-norm decomposed) find kornia's
    keypoints, on photos, noise and low contrast."""
    model = export_model(max_keypoints=512, instance_norm=InstanceNorm.DECOMPOSED)
    for path in shared_photo_paths():
        check_against_kornia(model, load_photo(path, 128, 160))
    check_against_kornia(model, noise_image(128, 160, seed=1))
    check_against_kornia(model, low_contrast(load_photo(shared_photo_paths()[1], 128, 160)))


@pytest.mark.parametrize("instance_norm", list(InstanceNorm), ids=lambda n: n.value)
def test_k_above_the_tensorrt_topk_limit_cuts_like_one_global_top_k(export_model, instance_norm):
    """K=5000 over 5756 candidates: the cut falls inside the third TopK round (rounds of TRT_TOPK_ROUND = 2048)."""
    model = export_model(
        height=240, width=320, max_keypoints=5000, nms_window=3, score_threshold=-100.0, instance_norm=instance_norm
    )
    check_against_kornia(model, noise_image(240, 320))


def test_k_8192_over_four_rounds_on_a_photo(export_model):
    model = export_model(height=480, width=640, max_keypoints=8192, nms_window=3, score_threshold=-100.0)
    image = load_photo(shared_photo_paths()[2], 480, 640)
    check_against_kornia(model, image)
    assert OnnxRuntimeBackend(str(model.path), threads=2).run(image).count > 2 * 3839


def test_slots_past_the_count_are_zero(export_model):
    model = export_model(height=128, width=160, max_keypoints=4000)
    backend = OnnxRuntimeBackend(str(model.path), threads=2)
    backend.run(noise_image(128, 160))
    keypoints, scores, descriptors, num_keypoints = backend._outputs
    count = int(num_keypoints[0])
    assert 0 < count < 4000
    assert not keypoints[0, count:].any() and not scores[0, count:].any() and not descriptors[0, count:].any()
    norms = np.linalg.norm(descriptors[0, :count], axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
