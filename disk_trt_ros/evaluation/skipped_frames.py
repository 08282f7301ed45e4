# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""What an evaluation skipped, and why: counted and listed in the report, which is written whatever was skipped."""

from __future__ import annotations

import dataclasses
from typing import Any

MAX_LISTED_SKIPPED = 10  # report.json lists the reasons of the first this many skipped frames of each kind


@dataclasses.dataclass
class SkippedFrames:
    """What an evaluation could not use, and why, for the report (it is written whatever was skipped).

    Attributes:
        rejections: frames whose message could not be deserialized or converted (too large, undecodable...).
        invalid_outputs: frames whose model outputs broke the contract (offline).
        read_errors: where the bag's storage failed and reading stopped (a corrupt page of a sqlite3 bag).
    """

    rejections: list[str] = dataclasses.field(default_factory=list)
    invalid_outputs: list[str] = dataclasses.field(default_factory=list)
    read_errors: list[str] = dataclasses.field(default_factory=list)

    def report_fields(self) -> dict[str, Any]:
        """The report.json keys: counts, the first reasons of each kind, every read error."""
        return {
            "rejected_frames": len(self.rejections),
            "rejections": self.rejections[:MAX_LISTED_SKIPPED],
            "invalid_output_frames": len(self.invalid_outputs),
            "invalid_outputs": self.invalid_outputs[:MAX_LISTED_SKIPPED],
            "bag_read_errors": self.read_errors,
        }

    def notes(self) -> list[str]:
        """report.md's notes on what was skipped."""
        return (
            [f"rejected {reason}" for reason in self.rejections[:MAX_LISTED_SKIPPED]]
            + [f"not evaluated, {reason}" for reason in self.invalid_outputs[:MAX_LISTED_SKIPPED]]
            + [f"reading stopped: {reason}" for reason in self.read_errors]
        )
