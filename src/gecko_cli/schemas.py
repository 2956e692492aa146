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
