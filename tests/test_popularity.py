"""Popularity definitions, checked on counts whose answers are known by construction."""

import numpy as np
import pytest

from gems.popularity import compute_popularity, listener_counts, popularity_discount, popularity_percentile, tail_mask


def test_listeners_are_distinct_users():
    users = np.array([0, 0, 0, 1, 2])
    items = np.array([0, 0, 1, 0, 1])  # user 0 played item 0 twice
    assert listener_counts(users, items, 3).tolist() == [2, 2, 0]


def test_percentile_100_is_the_most_popular():
    assert popularity_percentile(np.array([5, 1, 1, 0])).tolist() == [100.0, 75.0, 75.0, 25.0]


def test_head_holds_80_percent_of_interactions():
    # 50 + 30 = 80 of 100 interactions: the head is exactly the first two tracks
    counts = np.array([5, 50, 5, 30, 10, 0])
    assert tail_mask(counts).tolist() == [True, False, True, False, True, True]
    # the third track would pass 80%: the head stops at 79%
    assert (~tail_mask(np.array([49, 30, 11, 10]))).sum() == 2
    assert tail_mask(np.zeros(3, dtype=int)).all()


def test_equally_popular_tracks_are_never_split_between_head_and_tail():
    # 10 + 5 = 15 of 20; the 80% line (16) falls inside the one-listener tracks: all five go to the tail,
    # whatever their order, so the head holds 75% (at most 80%)
    counts = np.array([1, 10, 1, 1, 5, 1, 1])
    for permutation in (np.arange(7), np.array([3, 0, 6, 1, 5, 2, 4])):
        mask = tail_mask(counts[permutation])
        assert mask.tolist() == (counts[permutation] == 1).tolist()
    # a tie at the top: both or neither
    assert tail_mask(np.array([5, 5, 1])).tolist() == [True, True, True]


def test_theme_is_the_most_listened_track_of_each_soundtrack():
    #            ost A: t0 t1 t2   ost B: t3 t4   unknown: t5   single-track ost C: t6
    soundtracks = np.array([0, 0, 0, 1, 1, -1, 2])
    users = np.array([0, 1, 2, 0, 1, 0, 0, 3, 3])
    items = np.array([1, 1, 1, 0, 3, 4, 5, 6, 4])
    popularity = compute_popularity(users, items, np.ones(len(users)), soundtracks)
    assert np.flatnonzero(popularity.is_theme).tolist() == [1, 4]


def test_discount_is_one_without_strength_and_falls_with_listeners():
    listeners = np.array([0, 1, 10, 1000])
    assert popularity_discount(listeners, 0.0).tolist() == [1.0, 1.0, 1.0, 1.0]
    discount = popularity_discount(listeners, 0.5)
    assert discount[0] == 1.0 and np.all(np.diff(discount) < 0)
    assert discount[2] == pytest.approx(11**-0.5)
    with pytest.raises(ValueError):
        popularity_discount(listeners, -1)
