"""QA's tests for rangemerge, written from the PRD (REQ-1 merge overlapping ranges, REQ-2 sorted output,
REQ-3 invalid pairs)."""

import pytest
from rangemerge import merge


def test_req1_overlapping_ranges_merge() -> None:
    assert merge([(1, 3), (2, 5)]) == [(1, 5)]


def test_req1_disjoint_ranges_stay() -> None:
    assert merge([(1, 2), (5, 6)]) == [(1, 2), (5, 6)]


def test_req2_sorted_by_start() -> None:
    assert merge([(8, 9), (1, 4), (3, 5)]) == [(1, 5), (8, 9)]


def test_req3_start_after_end() -> None:
    with pytest.raises(ValueError):
        merge([(4, 1)])
