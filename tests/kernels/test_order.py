"""The radix argsort kernel against numpy's stable argsort."""

import numpy as np
import pytest

from gecko_cli import kernels
from gecko_cli.kernels import order


@pytest.mark.parametrize("n", [0, 1, 2, 7, 2048, 20000])
def test_argsort_is_numpys_stable_argsort(n):
    rng = np.random.default_rng(n)
    keys = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    keys[: n // 4] = keys[n // 4: 2 * (n // 4)]  # ties: kept in position order
    for k in (keys, keys % np.uint64(5), keys >> np.uint64(40), keys | np.uint64(1 << 63), np.sort(keys),
              np.sort(keys)[::-1], np.zeros(n, np.uint64), np.full(n, 2**64 - 1, np.uint64)):
        got = order.argsort(k)
        assert got.dtype == np.int64
        assert np.array_equal(got, np.argsort(k, kind="stable"))


@pytest.mark.parametrize("shared", [0, 3, 200, 3000])
def test_random_keys_that_share_their_top_bits(shared):
    # Random keys are sorted by their top digits first; keys that share those (few, or too many for that) and
    # ties must still come out as numpy's stable argsort has them.
    rng = np.random.default_rng(shared)
    n = 20000
    keys = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    low = np.uint64((1 << 33) - 1)
    at = rng.choice(n, 2 * shared, replace=False)
    keys[at[:shared]] = (keys[at[shared:]] & ~low) | (rng.integers(0, 1 << 33, shared, dtype=np.uint64))
    keys[at[: shared // 3]] = keys[at[shared: shared + shared // 3]]  # and some equal keys
    got = order.argsort(keys)
    assert np.array_equal(got, np.argsort(keys, kind="stable"))


def test_other_integers_and_the_kernel_off(monkeypatch):
    keys = np.array([5, 3, 3, 9, 0, 3], np.int64)
    want = np.argsort(keys, kind="stable")
    assert np.array_equal(order.argsort(keys), want)
    assert np.array_equal(order.argsort(keys.astype(np.uint32)), want)
    assert np.array_equal(order.argsort(np.array([2, -1, 2, -5])), [3, 1, 0, 2])  # negative: numpy's own
    monkeypatch.setenv(kernels.SETTING, "off")
    assert np.array_equal(order.argsort(keys.astype(np.uint64)), want)


def test_the_kernel_builds_here():
    assert order._LIB.get() is not None
