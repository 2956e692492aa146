"""Shared fixtures: tiny documents (with exact and near duplicates and Korean text) and shards of them."""

from __future__ import annotations

import pytest

from helpers import write_jsonl
from packed_corpus import corpus_docs, pack_corpus

_BASE_KO = ("대한민국의 수도는 서울이며, 서울은 한강을 끼고 발달한 도시이다. 인구는 약 천만 명이고 "
            "많은 기업과 대학이 모여 있어 정치, 경제, 문화의 중심지 역할을 한다.")
_BASE_EN = ("The quick brown fox jumps over the lazy dog while the farmer watches from the porch, "
            "drinking his coffee and thinking about the harvest that will come in the autumn.")
_BASE_CODE = ("def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
              "    return a\n\n\nprint(fibonacci(10))\n")


@pytest.fixture
def tiny_docs() -> list[dict]:
    """About a dozen documents: originals, exact and near duplicates, a normalized copy, an empty one."""
    docs = [
        {"id": "ko-0", "text": _BASE_KO, "lang": "ko", "source": "wiki"},
        {"id": "en-0", "text": _BASE_EN, "lang": "en", "source": "web"},
        {"id": "code-0", "text": _BASE_CODE, "lang": "code", "source": "github"},
        {"id": "ko-1", "text": _BASE_KO, "lang": "ko", "source": "wiki"},                        # exact
        {"id": "en-1", "text": _BASE_EN.upper().replace(" ", "  "), "lang": "en", "source": "web"},  # normalized
        {"id": "ko-2", "text": _BASE_KO.replace("약 천만 명", "약 구백만 명"), "lang": "ko", "source": "news"},  # near
        {"id": "code-1", "text": _BASE_CODE.replace("print(fibonacci(10))", "print(fibonacci(12))"),
         "lang": "code", "source": "github"},                                                      # near
        {"id": "en-2", "text": "A completely different sentence about astronomy and the orbits of planets.",
         "lang": "en", "source": "web"},
        {"id": "ko-3", "text": "오늘은 날씨가 맑고 바람이 시원해서 산책하기 좋은 날이다.", "lang": "ko", "source": "blog"},
        {"id": "empty-0", "text": "   \n\t ", "lang": "en", "source": "web"},
        {"id": "short-0", "text": "ok", "lang": "en", "source": "web"},
        {"id": "short-1", "text": "OK", "lang": "en", "source": "web"},                           # normalized
    ]
    return docs


@pytest.fixture
def tiny_raw(tmp_path, tiny_docs) -> str:
    """A raw/ folder holding the tiny documents split over two JSON-lines files."""
    raw = tmp_path / "raw"
    write_jsonl(str(raw / "a.jsonl"), tiny_docs[:6])
    write_jsonl(str(raw / "sub" / "b.jsonl.zst"), tiny_docs[6:])
    return str(raw)


def pytest_collection_modifyitems(config, items):
    """Run the tests that load JAX last: the data stages fork worker processes, and forking a process in which
    JAX's threads already run is unsafe."""
    items.sort(key=lambda item: bool({"pretrain", "eval", "kernels"} & set(item.path.parts)))


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> str:
    from gecko_cli.tokenizer.trainer import TrainSpec, save, train

    folder = str(tmp_path_factory.mktemp("tok"))
    save(train(iter(d["text"] for d in corpus_docs()), TrainSpec(vocab=1024, min_frequency=2)), folder)
    return folder


@pytest.fixture(scope="session")
def packed(tmp_path_factory, tokenizer_dir) -> str:
    """Rows of 128 tokens of the sample corpus (real tokenizer, 1024 entries), with a val/ split."""
    return pack_corpus(tmp_path_factory.mktemp("data"), tokenizer_dir, 128, "packed")


@pytest.fixture(scope="session", autouse=True)
def _session_compile_cache(tmp_path_factory):
    """`gecko pretrain` and `gecko eval` run by the tests keep their compiled programs, and the CPU kernels
    that they and `gecko balance` build (kernels/build.py), in folders of the test session (compile_cache.py),
    not in the user's cache: every session builds the kernels afresh, as on a new machine."""
    patch = pytest.MonkeyPatch()
    patch.setenv("GECKO_JAX_CACHE", str(tmp_path_factory.mktemp("jax-cache")))
    patch.setenv("GECKO_KERNEL_CACHE", str(tmp_path_factory.mktemp("kernel-cache")))
    yield
    patch.undo()
