# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""LightGlue weights (release checkpoint format, kornia's key renaming, bad checkpoints), the matcher metadata, and
``python -m disk_trt_ros export-matcher``."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("kornia", reason="kornia is not installed (pip install kornia)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import hashlib
import json
import re
import subprocess
import sys

import kornia.feature.lightglue as kornia_lightglue
import torch

from disk_trt_ros import cli
from disk_trt_ros.contract import MatcherMethod, TrtCompat
from disk_trt_ros.errors import ContractError, WeightsError
from disk_trt_ros.export.lightglue_graph import StaticLightGlue
from disk_trt_ros.export.lightglue_weights import lightglue_for_disk, load_lightglue, random_lightglue
from disk_trt_ros.matcher_contract import MATCHER_METADATA_PREFIX, MatcherInfo, read_onnx_matcher_info
from support.paths import REPO_ROOT


def release_names(state_dict: dict) -> dict:
    """A kornia state dict under the LightGlue release's key names (``self_attn.{i}``, ``cross_attn.{i}``), without
    the derived ``confidence_thresholds``: the layout of ``disk_lightglue.pth``."""
    renamed = {}
    for key, value in state_dict.items():
        match = re.fullmatch(r"transformers\.(\d+)\.(self_attn|cross_attn)\.(.*)", key)
        renamed[f"{match[2]}.{match[1]}.{match[3]}" if match else key] = value
    renamed.pop("confidence_thresholds")
    return renamed


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple:
    """A seeded random LightGlue saved as the release's ``disk_lightglue.pth``."""
    lightglue, _ = random_lightglue(3)
    path = tmp_path_factory.mktemp("weights") / "disk_lightglue.pth"
    torch.save(release_names(lightglue.state_dict()), path)
    return path, lightglue


def assert_same_weights(loaded: torch.nn.Module, expected: torch.nn.Module) -> None:
    loaded_state, expected_state = loaded.state_dict(), expected.state_dict()
    assert loaded_state.keys() == expected_state.keys()
    for name, tensor in expected_state.items():
        assert torch.equal(loaded_state[name], tensor), name


def test_release_checkpoint_loads_as_kornia_loads_it(checkpoint, monkeypatch):
    path, lightglue = checkpoint
    loaded, sha256 = load_lightglue(str(path))
    assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not loaded.training
    assert_same_weights(loaded, lightglue)
    # kornia's own loading path for features='disk', fed the same file instead of the download
    monkeypatch.setattr(kornia_lightglue, "load_state_dict_from_url", lambda *args, **kwargs: torch.load(path))
    assert_same_weights(loaded, kornia_lightglue.LightGlue(features="disk"))
    assert load_lightglue("disk")[1] == random_lightglue(3)[1]  # the download path, sha256 of the state dict


def test_a_state_dict_of_kornias_module_loads_as_it_is(checkpoint, tmp_path):
    _, lightglue = checkpoint
    path = tmp_path / "kornia_state.pth"
    torch.save(lightglue.state_dict(), path)
    assert_same_weights(load_lightglue(str(path))[0], lightglue)
    assert_same_weights(load_lightglue("random:3")[0], lightglue)


def test_bad_checkpoints_name_the_problem(checkpoint, tmp_path, monkeypatch):
    path, _ = checkpoint
    state = torch.load(path)
    state.pop("self_attn.4.Wqkv.bias")
    state["head.extra"] = torch.zeros(3)
    state["input_proj.weight"] = torch.zeros(256, 256)  # what a SuperPoint (256-d) checkpoint holds
    broken = tmp_path / "broken.pth"
    torch.save(state, broken)
    with pytest.raises(WeightsError) as raised:
        load_lightglue(str(broken))
    message = str(raised.value)
    assert "does not fit kornia's LightGlue for DISK (128-d descriptors" in message
    assert "missing keys (1): transformers.4.self_attn.Wqkv.bias" in message
    assert "unexpected keys (1): head.extra" in message
    assert "input_proj.weight: checkpoint (256, 256) vs LightGlue (256, 128)" in message
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    not_a_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], not_a_dict)
    cases = (
        (str(garbage), "is not a readable PyTorch checkpoint"),
        (str(not_a_dict), "is not a state dict"),
        (str(tmp_path / "absent.pth"), "no such file; give 'disk'"),
        ("random:x", "the seed after 'random:' must be an integer"),
    )
    for weights, message in cases:
        with pytest.raises(WeightsError, match=message) as raised:
            load_lightglue(weights)
        assert "\n" not in str(raised.value)

    def offline(*args, **kwargs):
        raise OSError("network is unreachable\nsecond line")

    monkeypatch.setattr(kornia_lightglue, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsError, match=r"could not download .*\(network is unreachable\); ") as raised:
        load_lightglue("disk")
    assert "\n" not in str(raised.value)


def test_metadata_round_trips_and_what_is_not_a_matchers_is_refused():
    info = MatcherInfo(MatcherMethod.LIGHTGLUE, 240, 320, 256, 0.1, TrtCompat.TRT_10, "random:0", "0" * 64, "0.1.0")
    metadata = info.to_metadata()
    assert json.loads(metadata[MATCHER_METADATA_PREFIX + "trt_compat"]) == "10"
    assert MatcherInfo.from_metadata(metadata) == info
    cases = (
        ({"contract_version": "2"}, "matcher contract version 2"),
        ({"height": "240.5"}, "'disk_trt_ros.matcher.height' is '240.5', not a JSON integer"),
        ({"filter_threshold": "true"}, "not a JSON number"),
        ({"weights": "{"}, "not valid JSON"),
        ({"trt_compat": '"9"'}, "invalid value"),
        ({"filter_threshold": "1.0"}, r"filter_threshold=1.0 must be in \[0, 1\)"),
    )
    for changes, message in cases:
        changed = dict(metadata, **{MATCHER_METADATA_PREFIX + key: value for key, value in changes.items()})
        with pytest.raises(ContractError, match=message):
            MatcherInfo.from_metadata(changed)
    with pytest.raises(ContractError, match="lacks 'disk_trt_ros.matcher.method'"):
        MatcherInfo.from_metadata({})


def test_export_command_takes_the_frame_from_the_extractor(checkpoint, export_model, tmp_path):
    path, _ = checkpoint
    extractor = export_model()  # 128x160, K=64
    output = tmp_path / "matcher.onnx"
    command = [sys.executable, "-m", "disk_trt_ros", "export-matcher", "--weights", str(path),
               "--extractor", str(extractor.path), "--output", str(output)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "TensorRT 8.2 support check: ok" in result.stdout
    info = read_onnx_matcher_info(str(output))
    assert (info.height, info.width, info.max_keypoints) == (128, 160, 64)
    assert (info.filter_threshold, info.weights, info.trt_compat.value) == (0.1, str(path), "8.2")
    assert info.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--weights", "random:0", "--height", "64", "--width", "96"], "give --max-keypoints, or --extractor MODEL"),
        (["--weights", "random:0", "--height", "64", "--width", "96", "--max-keypoints", "8",
          "--filter-threshold", "1"], r"filter_threshold=1.0 must be in \[0, 1\)"),
        (["--weights", "absent.pth", "--height", "64", "--width", "96", "--max-keypoints", "8"], "no such file"),
        (["--weights", "random:0", "--extractor", "absent.onnx"], "--extractor absent.onnx: no such file"),
        (["--weights", "random:0", "--extractor", "EXTRACTOR", "--max-keypoints", "32"],
         "--max-keypoints 32 differs from the extractor's 64"),
    ],
)
def test_bad_export_settings_are_refused_in_one_line(arguments, message, export_model, tmp_path, capsys):
    output = tmp_path / "matcher.onnx"
    extractor = str(export_model().path)
    arguments = [extractor if argument == "EXTRACTOR" else argument for argument in arguments]
    assert cli.main(["export-matcher", *arguments, "--output", str(output)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("export-matcher: error: ") and "\n" not in error and re.search(message, error), error
    assert not output.exists()



def test_a_lightglue_for_other_features_is_refused():
    info = MatcherInfo(MatcherMethod.LIGHTGLUE, 48, 64, 16, 0.1, TrtCompat.TRT_8_2, "random:0", "", "0.1.0")
    with pytest.raises(ContractError, match="this LightGlue takes 256-d descriptors .* DISK's needs input_dim=128"):
        StaticLightGlue(lightglue_for_disk(input_dim=256), info)
