"""Rules of the rule-based language labeller, one test per rule and edge case, and its accuracy on the corpus."""

from __future__ import annotations

import glob
import json
import os
from collections import Counter

import pytest
import zstandard

from gecko_cli.balance.langid import CHUNK_CHARS, LANGS, code_from_meta, detect, sample, strip_code_blocks
from helpers import CORPUS

KO = "대한민국의 수도는 서울이며, 서울은 한강을 끼고 발달한 도시이다. 많은 기업과 대학이 모여 있다."
EN = "The quick brown fox jumps over the lazy dog while the farmer watches from the porch."

PYTHON_KO_COMMENTS = '''# -*- coding: utf-8 -*-
"""
신경망 튜토리얼
================

이 튜토리얼에서는 파이토치로 간단한 신경망을 만들고 학습하는 방법을 알아보겠습니다.
처음부터 천천히 시작해 봅시다!
"""

######################################################################
# 데이터 준비하기
# ----------------
#
# 먼저 학습에 사용할 데이터를 불러옵니다. 데이터는 작은 텐서로 이루어져 있으며,
# 각 텐서는 입력과 정답을 담고 있습니다. 걱정하지 마세요, 어렵지 않습니다.

import torch
from torch import nn


class Net(nn.Module):
    """두 층으로 이루어진 작은 신경망입니다."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)  # 입력 4개, 출력 2개

    def forward(self, x):
        # 순전파를 정의합니다
        return self.fc(x)


######################################################################
# 모델 학습하기
# -------------
#
# 이제 모델을 만들고 손실 함수와 옵티마이저를 정의한 다음 학습을 시작합니다.

model = Net()
loss_fn = nn.CrossEntropyLoss()
'''

PYTHON = """from __future__ import annotations

import os


def read_config(path: str) -> dict:
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    with open(path) as fh:
        return {k: v for k, v in (line.split("=", 1) for line in fh)}
"""

RUST = """use std::collections::HashMap;

fn main() {
    let mut scores = HashMap::new();
    scores.insert(String::from("Blue"), 10);
    for (key, value) in &scores {
        println!("{key}: {value}");
    }
}
"""

C = """#include <stdio.h>

/* Print a greeting. */
static int greet(const char *name) {
    if (name == NULL) {
        return -1;
    }
    printf("hello %s\\n", name);
    return 0;
}
"""

JS = """'use strict'

var express = require('express');
var app = express();

// log every request
app.use(function (req, res, next) {
  console.log(req.method, req.url);
  next();
});

module.exports = app;
"""

MARKDOWN_KO = """## 해시 맵에 키와 연관된 값 저장하기

마지막으로 살펴볼 일반적인 컬렉션은 *해시 맵*입니다. `HashMap<K, V>` 타입은 해싱 함수를 사용하여
`K` 타입의 키와 `V` 타입의 값에 대한 매핑을 저장합니다.

### 새로운 해시 맵 생성하기

빈 해시 맵을 생성하는 한 가지 방법으로 `new`를 사용한 뒤 `insert`를 이용하여 요소를 추가하는 것이 있습니다.

```rust
use std::collections::HashMap;

fn main() {
    let mut scores = HashMap::new();
    scores.insert(String::from("Blue"), 10);
    scores.insert(String::from("Yellow"), 50);
    let team_name = String::from("Blue");
    let score = scores.get(&team_name).copied().unwrap_or(0);
}
```

```rust
fn main() {
    for (key, value) in &scores {
        println!("{key}: {value}");
    }
}
```

이 코드는 각각의 쌍을 임의의 순서로 출력할 것입니다.
"""

MARKDOWN_EN = """## Storing Keys with Associated Values in Hash Maps

The last of our common collections is the *hash map*. The type `HashMap<K, V>` stores a mapping of keys of
type `K` to values of type `V` using a hashing function, which determines how it places these keys and values
into memory.

```rust
use std::collections::HashMap;

fn main() {
    let mut scores = HashMap::new();
    scores.insert(String::from("Blue"), 10);
    scores.insert(String::from("Yellow"), 50);
    let team_name = String::from("Blue");
    let score = scores.get(&team_name).copied().unwrap_or(0);
}
```

This code will print each pair in an arbitrary order.
"""

REST_EN = """Deferred Request Callbacks
==========================

One of the design principles of Flask is that response objects are created and
passed down a chain of potential callbacks that can modify them. Here is an
example of a view that sets a cookie::

    @app.route('/')
    def index():
        response = make_response(render_template('index.html'))
        response.set_cookie('name', 'value')
        return response

.. code-block:: python

    @app.before_request
    def detect_user_language():
        language = request.cookies.get('user_lang')
        if language is None:
            language = guess_language_from_request()

.. note::

   The callbacks run in the order they were registered, after the request.

That is all there is to it: the callbacks are called with the response object.
"""

REST_KO = """C++ 프론트엔드의 자동 미분
========================================

``autograd`` 는 PyTorch로 유연하고 역동적인 신경망을 구축하기 위해 필수적인 패키지입니다.
텐서를 생성하고 그것의 계산을 추적하기 위해 ``torch::requires_grad()`` 를 실행해봅시다.

.. code-block:: cpp

  auto x = torch::ones({2, 2}, torch::requires_grad());
  std::cout << x << std::endl;
  auto y = x + 2;
  std::cout << y.grad_fn()->name() << std::endl;

다음과 같이 역전파를 수행할 수 있습니다::

  out.backward();
  std::cout << x.grad() << std::endl;

이제 기울기가 계산되었습니다.
"""

PO_FLATTENED = """Brief Tour of the Standard Library

The :mod:`os` module provides dozens of functions for interacting with the operating system::

>>> import os
>>> os.getcwd()
'C:\\\\Python313'
>>> os.chdir('/server/accesslogs')

Be sure to use the ``import os`` style instead of ``from os import *``. This will keep :func:`os.open` from \
shadowing the built-in :func:`open` function which operates much differently.
"""  # .po strings keep a paragraph on one line


@pytest.mark.parametrize("text", ["", "   \n\t \n", "😀🎉👍", "🙂 🙃\n😉", "12345 678.9 -- 10:30", "!!!!!!!!", "…—“”"])
def test_no_letters_is_other(text):
    assert detect(text) == "other"


@pytest.mark.parametrize("text", [KO, "오늘은 날씨가 맑다.", "ㅋㅋㅋㅋㅋ", "ㅠㅠ 너무 슬퍼요",
                                  "이건뭐;;;;;;;;;;;", "재밌다 ^_^ (강추)"])
def test_korean_prose_and_short_korean_is_ko(text):
    assert detect(text) == "ko"


def test_english_prose_is_en():
    assert detect(EN) == "en"
    assert detect("good") == "en"
    assert detect("Très bien, c'est très intéressant et émouvant.") == "en"  # Latin script
    assert detect("Tiếng Việt là ngôn ngữ chính thức của Việt Nam.") == "en"


def test_korean_quoting_english_stays_ko():
    text = ('그는 "The quick brown fox jumps over the lazy dog" 라는 문장을 보여 주며, 이 문장에는 '
            "영어 알파벳이 모두 들어 있다고 설명했다.")
    assert detect(text) == "ko"
    assert detect("이 영화는 정말 best of best 입니다. Highly recommended!") == "ko"


def test_english_mentioning_a_korean_word_stays_en():
    assert detect("In Korean, thank you is 감사합니다, which is pronounced gamsahamnida in most dialects.") == "en"


@pytest.mark.parametrize("text", ["これは日本語の文章です。ひらがなとカタカナ。", "这是一个中文句子，没有韩文。",
                                  "Это предложение на русском языке.", "هذه جملة باللغة العربية",
                                  "Αυτή είναι μια ελληνική πρόταση.", "यह एक हिंदी वाक्य है।"])
def test_other_scripts_are_other(text):
    assert detect(text) == "other"


GO = 'package main\n\nimport "fmt"\n\nfunc main() {\n\tx := 3\n\tif x > 2 {\n\t\tfmt.Println(x)\n\t}\n}\n'
SQL = "-- active users\nSELECT id, name\nFROM users\nWHERE active = 1\nORDER BY name;\n"
SHELL = '#!/bin/bash\nset -euo pipefail\n\nfor f in *.txt; do\n  echo "$f"\ndone\n'


@pytest.mark.parametrize("text", [PYTHON, RUST, C, JS, GO, SQL, SHELL, "import os\n",
                                  "from typing import Final\n\nNAME: Final = 1\n"])
def test_source_code_is_code(text):
    assert detect(text) == "code"


def test_python_with_korean_comments_and_docstrings_is_code():
    assert detect(PYTHON_KO_COMMENTS) == "code"


def test_windows_line_ends_read_like_unix_ones():
    assert detect(PYTHON.replace("\n", "\r\n")) == "code"
    assert detect(C.replace("\n", "\r\n")) == "code"
    assert detect(MARKDOWN_EN.replace("\n", "\r\n")) == "en"
    assert detect(REST_KO.replace("\n", "\r\n")) == "ko"


def test_short_emoticons_are_not_code():
    assert detect("G-O-O-D ^-^") == "en"
    assert detect("-_-^") == "other"


def test_markdown_is_labelled_by_its_prose_not_its_code_blocks():
    assert detect(MARKDOWN_KO) == "ko"
    assert detect(MARKDOWN_EN) == "en"
    assert "HashMap::new" not in strip_code_blocks(MARKDOWN_EN)
    assert "arbitrary order" in strip_code_blocks(MARKDOWN_EN)


def test_rest_literal_blocks_and_code_directives_are_stripped():
    stripped = strip_code_blocks(REST_EN)
    assert "set_cookie" not in stripped and "detect_user_language" not in stripped
    assert "in the order they were registered" in stripped  # a note keeps its body
    assert detect(REST_EN) == "en"
    assert detect(REST_KO) == "ko"
    assert "std::cout" not in strip_code_blocks(REST_KO)


def test_flattened_literal_block_in_po_text_is_stripped():
    stripped = strip_code_blocks(PO_FLATTENED)
    assert "getcwd" not in stripped and "Be sure to use" in stripped
    assert detect(PO_FLATTENED) == "en"


def test_long_documents_are_sampled_with_balanced_fences():
    long_md = (MARKDOWN_KO * 40)[7:]  # cut so that no chunk starts at a paragraph
    assert len(long_md) > 20_000
    part = sample(long_md)
    assert len(part) < 3 * CHUNK_CHARS + 40
    assert part.count("```") % 2 == 0
    assert detect(long_md) == "ko"
    assert detect(RUST * 200) == "code"
    assert detect(PYTHON_KO_COMMENTS * 30) == "code"
    assert sample(KO) == KO


def test_a_chunk_that_lies_inside_a_fence_is_fenced():
    text = "prose line\n" * 1000 + "```\n" + "let x = 1;\n" * 1000 + "```\n" + "prose line\n" * 1000
    part = sample(text)  # the middle chunk has no fence of its own
    assert part.count("```") == 2
    assert "let x" not in strip_code_blocks(part) and "prose line" in strip_code_blocks(part)
    assert detect(text) == "en"


@pytest.mark.parametrize("meta", [{"path": "src/main.rs"}, {"filename": "train.PY"}, {"file": "a/b/util.h"},
                                  {"ext": "cpp"}, {"extension": ".Java"}, {"language": "Python"},
                                  {"programming_language": "c++"}, {"repo_path": "Makefile"}, {"id": "repo/lib/x.go"},
                                  {"source": "github:owner/repo/bin/run.sh"}, {"filename": "deploy.sh"},
                                  {"path": "C:\\src\\Main.java"}, {"file": "CMakeLists.txt"}])
def test_code_file_names_and_languages_in_meta_make_code(meta):
    assert code_from_meta(meta)
    assert detect(KO, meta) == "code"


@pytest.mark.parametrize("meta", [{"path": "docs/intro.md"}, {"filename": "index.rst"}, {"file": "ko.po"},
                                  {"path": "notes.txt"}, {"ext": "html"}, {"language": "ko"}, {"language": "Korean"},
                                  {"source": "py_flask"}, {"id": "py_flask-000001"}, {"source": "https://x.org/a.php"},
                                  {"source": "allegro.pl"}, {"id": "deno.sh"}, {"path": "src"}, {"file": "Profile.md"},
                                  {"id": 12, "path": None}, {"url": "https://example.com/main.py"}, {}, None])
def test_other_meta_says_nothing(meta):
    assert not code_from_meta(meta)
    assert detect(KO, meta) == "ko"
    assert detect(EN, meta) == "en"


def test_markup_extension_does_not_hide_code_text():
    assert detect(RUST, {"path": "notes.md"}) == "code"


def test_labels_are_langs():
    assert LANGS == ("ko", "en", "code", "other")
    assert {detect(t) for t in (KO, EN, RUST, "")} == set(LANGS)


def _corpus_sample(per_lang: int) -> dict[str, list[dict]]:
    """`per_lang` documents per true label, shared evenly by its source files (a small file gives all it has and
    the larger ones make up the rest) and spread evenly over each file."""
    picked: dict[str, list[dict]] = {}
    for lang in ("ko", "en", "code"):
        paths = sorted(glob.glob(os.path.join(CORPUS, lang, "*.jsonl.zst")))
        assert paths, f"no corpus files under {CORPUS}/{lang} (set GECKO_SHARED)"
        files = []
        for path in paths:
            with open(path, "rb") as fh:
                files.append(zstandard.ZstdDecompressor().stream_reader(fh).read().decode("utf-8").splitlines())
        files.sort(key=len)
        picked[lang], remaining = [], per_lang
        for i, lines in enumerate(files):
            quota = -(-remaining // (len(files) - i))
            taken = lines[::max(len(lines) // quota, 1)][:quota]
            picked[lang].extend(json.loads(line) for line in taken)
            remaining -= len(taken)
    return picked


def test_accuracy_on_shared_corpus_sample():
    wrong = Counter()
    for lang, docs in _corpus_sample(200).items():
        for doc in docs:
            meta = {k: v for k, v in doc.items() if k not in ("text", "lang")}
            pred = detect(doc["text"], meta)
            wrong[lang] += pred != lang
        assert len(docs) == 200
        accuracy = 1 - wrong[lang] / len(docs)
        assert accuracy >= 0.98, f"{lang}: {accuracy:.1%} of {len(docs)} documents"
