# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Stereo pairing by stamp (node/stamp_pairing.py), without ROS: exact and approximate pairs, order, bounded
queues, and what is counted as unpaired or out of order."""

from __future__ import annotations

import pytest

from disk_trt_ros.node.stamp_pairing import Pairing, StampPairer

MS = 1_000_000  # nanoseconds


def test_equal_stamps_pair_whichever_side_comes_first() -> None:
    pairer: StampPairer[str] = StampPairer(tolerance_ns=0, queue_size=5)
    assert pairer.add(0, 100, "left 100") == Pairing()
    assert pairer.add(1, 100, "right 100") == Pairing(pair=("left 100", "right 100"))
    assert pairer.add(1, 200, "right 200") == Pairing()
    assert pairer.add(0, 200, "left 200") == Pairing(pair=("left 200", "right 200"))


def test_with_a_tolerance_the_nearest_stamp_within_it_is_taken() -> None:
    pairer: StampPairer[str] = StampPairer(tolerance_ns=5 * MS, queue_size=5)
    assert pairer.add(1, 100 * MS, "right 100").pair is None
    assert pairer.add(1, 103 * MS, "right 103").pair is None
    # left 104 is 4 ms from right 100 and 1 ms from right 103: the nearer is taken, the older one can never pair
    assert pairer.add(0, 104 * MS, "left 104") == Pairing(pair=("left 104", "right 103"), unpaired=1)
    assert pairer.add(0, 200 * MS, "left 200").pair is None
    assert pairer.add(1, 206 * MS, "right 206").pair is None, "6 ms apart is beyond the tolerance"


def test_items_too_old_for_any_partner_are_counted_as_unpaired() -> None:
    pairer: StampPairer[int] = StampPairer(tolerance_ns=0, queue_size=5)
    pairer.add(0, 10, 10)
    pairer.add(0, 20, 20)
    # a right item at 30: the left ones at 10 and 20 can meet no right item from now on
    assert pairer.add(1, 30, 30) == Pairing(unpaired=2)
    assert pairer.add(0, 30, 31) == Pairing(pair=(31, 30))


def test_a_full_queue_drops_its_oldest_item() -> None:
    pairer: StampPairer[int] = StampPairer(tolerance_ns=0, queue_size=2)
    assert [pairer.add(0, stamp, stamp).unpaired for stamp in (1, 2, 3, 4)] == [0, 0, 1, 1]
    assert pairer.add(1, 3, -3) == Pairing(pair=(3, -3)), "left 3 and 4 were kept"
    assert pairer.add(1, 4, -4) == Pairing(pair=(4, -4)), "left 4 is newer than the pair at 3: it waits on"


def test_a_stamp_not_newer_than_the_last_of_its_side_is_refused() -> None:
    pairer: StampPairer[str] = StampPairer(tolerance_ns=0, queue_size=5)
    pairer.add(0, 50, "left 50")
    assert pairer.add(0, 50, "left 50 again") == Pairing(out_of_order=True)
    assert pairer.add(0, 40, "left 40") == Pairing(out_of_order=True)
    assert pairer.add(1, 40, "right 40") == Pairing(), "the other side keeps its own order"
    assert pairer.add(1, 50, "right 50").pair == ("left 50", "right 50")


def test_pairs_come_out_in_stamp_order() -> None:
    pairer: StampPairer[int] = StampPairer(tolerance_ns=3, queue_size=10)
    arrivals = [(0, 10), (0, 20), (1, 21), (1, 12), (0, 30), (1, 31)]  # right 12 arrives after right 21: refused
    pairs = [result.pair for side, stamp in arrivals if (result := pairer.add(side, stamp, stamp)).pair]
    assert pairs == [(20, 21), (30, 31)]


def test_settings_that_cannot_pair_are_refused() -> None:
    with pytest.raises(ValueError, match="queue_size=0"):
        StampPairer(tolerance_ns=0, queue_size=0)
