"""Column names and Arrow schemas of gecko's shards: the only place they are spelled out."""

from __future__ import annotations

import pyarrow as pa

TEXT = "text"
ID = "id"
LANG = "lang"
SOURCE = "source"

#: Documents schema: the core columns, in this order; other input columns follow them untouched.
DOCS = pa.schema([
    pa.field(TEXT, pa.string(), nullable=False),
    pa.field(ID, pa.string()),
    pa.field(LANG, pa.string()),
    pa.field(SOURCE, pa.string()),
])
DOC_COLUMNS = tuple(DOCS.names)

# Columns added to documents that dedup drops, when they are written for audit (--keep-dropped).
DEDUP_REASON = "dedup_reason"
DEDUP_CLUSTER = "dedup_cluster"
DEDUP_DUP_OF = "dedup_dup_of"
DEDUP_DROPPED_FIELDS = (
    pa.field(DEDUP_REASON, pa.string()),
    pa.field(DEDUP_CLUSTER, pa.int64()),
    pa.field(DEDUP_DUP_OF, pa.string()),
)

# Column added to documents that balance drops, when they are written for audit (--keep-dropped).
BALANCE_REASON = "balance_reason"

SCHEMAS = {"docs": DOCS}


# Packed rows: `tokens` is a fixed-size list of seq_len token ids (uint16 while the vocabulary fits); `used` is how
# many of them are real (the rest is padding, masked out of the loss); `tokens_<lang>` count each row's tokens by
# the language of the document they come from; `text_bytes` is the UTF-8 text the row covers (bits per byte), and
# `text_bytes_<lang>` the same by the language of the documents (they add up to `text_bytes` exactly: a document
# cut over rows shares its bytes in proportion to its tokens in each row, in whole bytes); `segment_langs` holds
# the language code (an index into PACKED_LANGS) of each segment of the row in order, a segment starting at the
# row start and at each <s> among the real tokens (as `gecko_cli.pack.reader.segments` splits rows). Rows packed
# before `text_bytes_<lang>` and `segment_langs` existed lack those columns.
TOKENS = "tokens"
USED = "used"
TEXT_BYTES = "text_bytes"
SEGMENT_LANGS = "segment_langs"
PACKED_LANGS = ("ko", "en", "code", "other")
LANG_TOKENS = tuple(f"tokens_{lang}" for lang in PACKED_LANGS)
LANG_BYTES = tuple(f"text_bytes_{lang}" for lang in PACKED_LANGS)


def token_type(vocab_size: int) -> pa.DataType:
    """uint16 token ids while the vocabulary fits, else uint32."""
    return pa.uint16() if vocab_size <= 65536 else pa.uint32()


def packed(seq_len: int, vocab_size: int) -> pa.Schema:
    """The packed-rows schema for a sequence length and vocabulary size."""
    return pa.schema([
        pa.field(TOKENS, pa.list_(token_type(vocab_size), seq_len), nullable=False),
        pa.field(USED, pa.int32(), nullable=False),
        *(pa.field(name, pa.int32(), nullable=False) for name in LANG_TOKENS),
        pa.field(TEXT_BYTES, pa.int64(), nullable=False),
        *(pa.field(name, pa.int64(), nullable=False) for name in LANG_BYTES),
        pa.field(SEGMENT_LANGS, pa.list_(pa.uint8()), nullable=False),
    ])
