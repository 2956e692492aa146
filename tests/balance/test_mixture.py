import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli.balance import mixture
from gecko_cli.balance.config import BalanceConfig, parse_mix
from gecko_cli.balance.sizes import parse_total
from gecko_cli.errors import ConfigError, DataError

MIX = {"ko": 0.35, "en": 0.28, "code": 0.37}


def _targets(plan):
    return {p.lang: p.target for p in plan.langs}


def test_largest_mix_within_the_epoch_cap():
    available = {"ko": 10.0, "en": 100.0, "code": 50.0}
    plan = mixture.plan_mixture(available, MIX, total=None, max_epochs=4, best_effort=False)
    t = _targets(plan)
    assert t["ko"] == pytest.approx(40.0)  # Korean is the scarce one: 4 epochs
    assert t["en"] / sum(t.values()) == pytest.approx(0.28)
    assert t["code"] / sum(t.values()) == pytest.approx(0.37)
    assert max(p.epochs for p in plan.langs) == pytest.approx(4.0)
    assert plan.achieved


def test_total_down_samples_and_up_samples():
    available = {"ko": 10.0, "en": 100.0, "code": 50.0}
    plan = mixture.plan_mixture(available, MIX, total=100.0, max_epochs=4, best_effort=False)
    t = _targets(plan)
    assert t == pytest.approx({"ko": 35.0, "en": 28.0, "code": 37.0})
    epochs = {p.lang: p.epochs for p in plan.langs}
    assert epochs["ko"] == pytest.approx(3.5) and epochs["en"] == pytest.approx(0.28)


def test_impossible_total_stops_with_the_largest_possible():
    available = {"ko": 10.0, "en": 100.0, "code": 50.0}
    with pytest.raises(DataError, match="epochs of ko") as e:
        mixture.plan_mixture(available, MIX, total=1000.0, max_epochs=4, best_effort=False)
    assert "114" in e.value.hint  # 40 / 0.35 = 114.3: the largest total that works


def test_best_effort_caps_and_shares_the_rest():
    available = {"ko": 10.0, "en": 100.0, "code": 50.0}
    plan = mixture.plan_mixture(available, MIX, total=300.0, max_epochs=4, best_effort=True)
    t = _targets(plan)
    assert t["ko"] == pytest.approx(40.0)
    assert sum(t.values()) == pytest.approx(300.0)
    assert t["en"] / t["code"] == pytest.approx(0.28 / 0.37)
    assert not plan.achieved and "closest" in plan.note


def test_language_without_documents_is_an_error():
    with pytest.raises(DataError, match="no code documents"):
        mixture.plan_mixture({"ko": 1.0, "en": 1.0}, MIX, total=None, max_epochs=4, best_effort=False)


def test_copies_reach_the_fraction_exactly_and_deterministically():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**63, 1000, dtype=np.uint64)
    sizes = rng.integers(1, 100, 1000)
    whole, thr = mixture.copies(keys, sizes, 2.3)
    assert whole == 2
    extra = keys <= np.uint64(thr)
    got = (whole * sizes.sum() + sizes[extra].sum()) / sizes.sum()
    assert 2.3 <= got < 2.3 + sizes.max() / sizes.sum()
    assert mixture.copies(keys, sizes, 2.3) == (whole, thr)
    assert mixture.copies(keys, sizes, 3.0) == (3, -1)


@pytest.mark.parametrize("text, match", [
    ("ko=0.5,en=0.4", "sum to 0.9"),
    ("ko=0.5,jp=0.5", "unknown language 'jp'"),
    ("ko=0.5,en", "cannot read"),
    ("ko=1.2,en=-0.2", "negative"),
    ("ko=0.5,ko=0.5", "names 'ko' twice"),
])
def test_bad_mix_is_a_config_error(text, match):
    with pytest.raises(ConfigError, match=match):
        BalanceConfig(mix=text)


@pytest.mark.parametrize("mix", ["ko=nan,en=1", "ko=inf,en=0", "ko=1e400,en=0", "en=0.5,ko=-inf",
                                 (("ko", float("nan")), ("en", 1.0)), {"ko": float("inf")}])
def test_mix_shares_must_be_finite(mix):
    with pytest.raises(ConfigError, match=r"--mix: the share of ko is -?(nan|inf), not a finite number"):
        BalanceConfig(mix=mix)


def test_mix_forms():
    assert dict(parse_mix("ko=35,en=28,code=37")) == pytest.approx(MIX)
    for mix in ("ko=0.5,en=0.5,code=-0", {"ko": 0.5, "en": 0.5, "code": -0.0}):  # not -0.0, shown as -0.0 %
        assert str(BalanceConfig(mix=mix).mix_dict["code"]) == "0.0"
    assert BalanceConfig(mix="ko=0.5,en=0.5").mix_dict == {"ko": 0.5, "en": 0.5}
    assert BalanceConfig(mix={"ko": 1.0}).mix_dict == {"ko": 1.0}


def test_a_negative_share_names_its_language():
    with pytest.raises(ConfigError, match="^--mix: the share of code is -0.1; shares must not be negative$"):
        BalanceConfig(mix="ko=0.6,en=0.5,code=-0.1")


def test_totals():
    assert parse_total("2GB", "bytes") == 2e9
    assert parse_total("200B", "tokens") == 200e9
    assert parse_total("1.5T", "tokens") == 1.5e12
    with pytest.raises(ConfigError):
        parse_total("lots", "tokens")
    with pytest.raises(ConfigError, match="--tokenizer"):
        BalanceConfig(by="tokens")


@pytest.mark.parametrize("by", ["bytes", "tokens"])
def test_a_total_too_large_for_a_number_is_a_config_error(by):
    with pytest.raises(ConfigError, match="--total: cannot read"):
        parse_total("9" * 400, by)


def test_interleave_texts_matches_a_take():
    from gecko_cli.balance.shuffle import interleave_texts

    a = pa.chunked_array([pa.array(["한국어", "", "abc"]), pa.array(["x" * 10, "끝"]).slice(0, 2)])
    b = pa.chunked_array([pa.array(["b0", "b1", "b2", "b3"]).slice(1, 3)])
    rows_a, rows_b = np.array([4, 0, 2, 0, 1]), np.array([2, 0])
    order = np.array([5, 0, 3, 6, 1, 2, 4])
    expected = pa.concat_arrays([a.take(pa.array(rows_a)).combine_chunks(),
                                 b.take(pa.array(rows_b)).combine_chunks()]).take(pa.array(order))
    got = interleave_texts([(a, rows_a), (b, rows_b)], order)
    got.validate(full=True)
    assert got.to_pylist() == expected.to_pylist()


def test_take_rows_matches_arrows_take_without_concatenating():
    from gecko_cli.balance.shuffle import take_rows

    rng = np.random.default_rng(3)
    chunks = [pa.array([f"{c}-{i}" * int(rng.integers(0, 4)) for i in range(int(n))], pa.string())
              for c, n in enumerate(rng.integers(0, 7, 12))]
    chunks.append(pa.array(["한", "국", "어", "끝"]).slice(1, 2))  # a sliced chunk: its offsets start past 0
    column = pa.chunked_array(chunks, pa.string())
    for rows in (rng.integers(0, len(column), 200), np.arange(len(column))[::-1], np.array([len(column) - 1] * 3)):
        got = take_rows(column, rows)
        got.validate(full=True)
        assert isinstance(got, pa.Array)
        assert got.to_pylist() == column.take(pa.array(rows)).to_pylist()
    assert take_rows(column, np.zeros(0, np.int64)).to_pylist() == []


def test_take_rows_does_not_copy_the_whole_column():
    # Arrow's take on a chunked string column concatenates every chunk first; gather takes each output batch from
    # all scanned files' texts, so that copy would grow with the corpus. Measured in a fresh process, where the
    # memory pool's peak is the column itself until the take.
    script = textwrap.dedent("""
        import numpy as np, pyarrow as pa
        from gecko_cli.balance.shuffle import take_rows
        column = pa.chunked_array([pa.array(["x" * 300] * 20_000) for _ in range(10)])
        pool = pa.default_memory_pool()
        before = pool.max_memory()
        got = take_rows(column, np.random.default_rng(0).integers(0, len(column), 1000))
        print(pool.max_memory() - before, column.nbytes, got.nbytes)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    grown, column_bytes, taken_bytes = map(int, out.split())
    assert grown < column_bytes / 10, (grown, column_bytes, taken_bytes)
