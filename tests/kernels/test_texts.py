"""The text-taking kernel against Arrow's take, and the buffers it uses again."""

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli import kernels
from gecko_cli.kernels.texts import TextTaker


def _arrays(rng: np.random.Generator) -> list[pa.Array]:
    words = ["", "a", "한국어 문서", "😀 emoji", "x" * 300, "line\nbreak"]
    texts = [words[i % len(words)] + str(i) * int(rng.integers(0, 4)) for i in range(400)]
    whole = pa.array(texts, pa.string())
    return [whole.slice(0, 150), whole.slice(150, 100), pa.array(texts[250:], pa.string()), pa.array([], pa.string())]


def _reference(arrays: list[pa.Array], which: np.ndarray, rows: np.ndarray) -> list[str]:
    return [arrays[a][r].as_py() for a, r in zip(which.tolist(), rows.tolist())]


def _pick(arrays: list[pa.Array], rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    which = rng.choice([i for i, a in enumerate(arrays) if len(a)], n).astype(np.int32)
    rows = np.array([rng.integers(0, len(arrays[a])) for a in which], np.int64)
    nbytes = sum(len(t.encode()) for t in _reference(arrays, which, rows))
    return which, rows, nbytes


def test_texts_are_arrows_take_of_sliced_arrays():
    rng = np.random.default_rng(0)
    arrays = _arrays(rng)
    taker = TextTaker.make(arrays, 2)
    assert taker is not None
    for n in (0, 1, 7, 500):
        which, rows, nbytes = _pick(arrays, rng, n)
        got = taker.take(which, rows, nbytes)
        got.validate(full=True)
        assert got.type == pa.string() and got.to_pylist() == _reference(arrays, which, rows)


def test_a_batch_stays_valid_until_its_buffer_comes_round_again():
    rng = np.random.default_rng(1)
    arrays = _arrays(rng)
    taker = TextTaker.make(arrays, 3)
    first = [_pick(arrays, rng, 50) for _ in range(3)]
    picks = first * 2 + [_pick(arrays, rng, 40)]
    taken = []
    for k, pick in enumerate(picks):
        taken.append(taker.take(*pick))
        for j in range(max(0, k - 2), k + 1):  # the last 3 batches are intact
            assert taken[j].to_pylist() == _reference(arrays, *picks[j][:2])
    data = [t.buffers()[2].address for t in taken]
    assert data[3] == data[0] and data[4] == data[1] and len(set(data[:3])) == 3  # the same memory, in turn


def test_bad_rows_and_sizes_are_refused():
    rng = np.random.default_rng(2)
    arrays = _arrays(rng)
    taker = TextTaker.make(arrays, 1)
    with pytest.raises(IndexError):
        taker.take(np.array([0], np.int32), np.array([150]), 10)
    with pytest.raises(IndexError):
        taker.take(np.array([4], np.int32), np.array([0]), 10)
    with pytest.raises(IndexError):
        taker.take(np.array([1], np.int32), np.array([-1]), 10)
    which, rows, nbytes = _pick(arrays, rng, 20)
    with pytest.raises(ValueError, match="bytes"):  # too small a size stops before it writes past the buffer
        taker.take(which, rows, nbytes - 1)
    assert taker.take(which, rows, nbytes).to_pylist() == _reference(arrays, which, rows)


def test_nulls_other_types_and_off_mean_none(monkeypatch):
    assert TextTaker.make([pa.array(["a", None])], 2) is None
    assert TextTaker.make([pa.array(["a"], pa.large_string())], 2) is None
    monkeypatch.setenv(kernels.SETTING, "off")
    assert TextTaker.make([pa.array(["a"])], 2) is None


def test_a_buffer_chosen_by_slot():
    # Calls on several threads at once name their buffers: slot k is buffer k modulo their number.
    rng = np.random.default_rng(3)
    arrays = _arrays(rng)
    taker = TextTaker.make(arrays, 3)
    first = [_pick(arrays, rng, 30 + k) for k in range(3)]
    picks = first + first[:2]  # (no larger than before: a buffer too small is replaced)
    taken = [taker.take(*pick, slot=k) for k, pick in enumerate(picks)]
    data = [t.buffers()[2].address for t in taken]
    assert data[3] == data[0] and data[4] == data[1] and len(set(data[:3])) == 3
    for k in (2, 3, 4):  # the last one taken into each buffer is intact
        assert taken[k].to_pylist() == _reference(arrays, *picks[k][:2])
    assert taker.take(*picks[0]).buffers()[2].address == data[0]  # the turn of calls without a slot is its own
