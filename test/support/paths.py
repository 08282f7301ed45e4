# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Where things are: the checkout, the shared photographs beside it, and the environment of test subprocesses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_DIR = REPO_ROOT / "test"
SHARED_DIR = REPO_ROOT.parent / "shared"
PHOTO_DIR = SHARED_DIR / "data" / "images"


def shared_photo_paths() -> list[Path]:
    """The real photographs in ../shared/data/images; skips the calling test when they are absent."""
    paths = sorted(p for p in PHOTO_DIR.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        pytest.skip(f"no photographs in {PHOTO_DIR} (../shared is absent)")
    return paths


def subprocess_environment(**variables: str) -> dict[str, str]:
    """This process's environment with ``test/`` first on ``PYTHONPATH`` (so that a subprocess can run
    ``python -m support.trt_double``), and ``variables`` set."""
    path = os.pathsep.join(filter(None, [str(TEST_DIR), os.environ.get("PYTHONPATH", "")]))
    return {**os.environ, "PYTHONPATH": path, **variables}
