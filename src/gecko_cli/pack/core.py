"""Pure logic of pack: lay tokenized documents out in fixed-length rows for pretraining. No files here: arrays in,
arrays out.

Both strategies cut the documents into pieces (a run of one document's tokens that lands in one row), fill the
token matrix, then derive the per-row counts from the pieces in one vectorized pass (`_assemble`): real tokens,
tokens and text bytes per language, and the language of each segment of each row.
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass

import numpy as np

N_LANGS = 4  # schemas.PACKED_LANGS: ko, en, code, other


@dataclass
class Docs:
    """Tokenized documents, end to end.

    Attributes:
        tokens: uint32, every document's ids end to end, each already wrapped as <s> ids </s>.
        offsets: int64, length n_docs + 1: document i is tokens[offsets[i]:offsets[i + 1]].
        langs: uint8 language code per document, in schemas.PACKED_LANGS order (0 ko, 1 en, 2 code, 3 other).
        nbytes: int64 UTF-8 bytes of each document's text.
    """

    tokens: np.ndarray
    offsets: np.ndarray
    langs: np.ndarray
    nbytes: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1


@dataclass
class Rows:
    """Packed rows and what went into them.

    Attributes:
        tokens: (n_rows, seq_len) uint32, padded with pad_id.
        used: (n_rows,) int32 real tokens in each row (padding only ever at the end of a row).
        lang_tokens: (n_rows, 4) int32 tokens per language in each row.
        lang_bytes: (n_rows, 4) int64 text bytes each row covers, by the language of their documents; a document
            cut over rows shares its bytes in proportion to its tokens in each row (integers that add up exactly
            to the document's bytes).
        text_bytes: (n_rows,) int64 text bytes each row covers: the sum of its lang_bytes.
        segment_langs: uint8 language code of each segment of each row, rows in order, segments in order within
            a row: the language of the document of the segment's first token. Given a bos id, segments are those
            of `gecko_cli.pack.reader.segments` (a segment starts at each row start, at each <s> and right after
            each </s> among the real tokens); without one, each piece is a segment (the same for documents
            wrapped as <s> ... </s>).
        segment_counts: (n_rows,) int32 segments in each row (at least 1): row r's languages are segment_langs[
            sum(segment_counts[:r]):sum(segment_counts[:r + 1])].
        docs: documents packed (documents with at least one token).
        docs_cut: documents split over two or more rows.
        padding: pad tokens in all rows.
    """

    tokens: np.ndarray
    used: np.ndarray
    lang_tokens: np.ndarray
    lang_bytes: np.ndarray
    text_bytes: np.ndarray
    segment_langs: np.ndarray
    segment_counts: np.ndarray
    docs: int
    docs_cut: int
    padding: int


def empty_docs() -> Docs:
    """No documents (a neutral start for `concat_docs`)."""
    return Docs(tokens=np.zeros(0, np.uint32), offsets=np.zeros(1, np.int64), langs=np.zeros(0, np.uint8),
                nbytes=np.zeros(0, np.int64))


def concat_docs(docs: list[Docs]) -> Docs:
    """Join batches of documents into one, in order.

    Args:
        docs: batches of documents.

    Returns:
        One Docs holding every document of every batch; an empty list gives `empty_docs()`.
    """
    if not docs:
        return empty_docs()
    shifts = np.cumsum([0] + [len(d.tokens) for d in docs[:-1]], dtype=np.int64)
    offsets = [np.zeros(1, np.int64)] + [np.asarray(d.offsets[1:], np.int64) + s for d, s in zip(docs, shifts)]
    return Docs(tokens=np.concatenate([np.asarray(d.tokens, np.uint32) for d in docs]),
                offsets=np.concatenate(offsets),
                langs=np.concatenate([np.asarray(d.langs, np.uint8) for d in docs]),
                nbytes=np.concatenate([np.asarray(d.nbytes, np.int64) for d in docs]))


def pack_concat(docs: Docs, seq_len: int, pad_id: int, bos_id: int | None = None,
                eos_id: int | None = None) -> Rows:
    """Documents end to end, cut into rows of exactly seq_len tokens.

    A document longer than what is left of a row continues in the next one; only the last row may be short
    (padded with pad_id).

    Args:
        docs: the documents, in the order they go into the rows.
        seq_len: tokens per row (at least 1).
        pad_id: token id that fills the end of the last row.
        bos_id, eos_id: the ids of <s> and </s>, which delimit the segments of `Rows.segment_langs`; without
            bos_id each piece is a segment.

    Returns:
        The rows; their real tokens, read row by row, are exactly `docs.tokens`.
    """
    _check(docs, seq_len, pad_id, bos_id, eos_id)
    offsets = np.asarray(docs.offsets, np.int64)
    total = int(offsets[-1])
    n_rows = -(-total // seq_len)
    # Pieces start at every document start and every row start; duplicates (a document starting a row, empty
    # documents) collapse.
    bounds = np.union1d(offsets, np.arange(0, total, seq_len, dtype=np.int64))
    starts = bounds[:-1]
    doc = np.searchsorted(offsets, starts, side="right") - 1  # an empty document never owns a piece
    flat = np.full(n_rows * seq_len, pad_id, np.uint32)
    flat[:total] = docs.tokens
    row, pos = np.divmod(starts, seq_len)
    return _assemble(docs, flat.reshape(n_rows, seq_len), row, pos, doc, starts - offsets[doc], np.diff(bounds),
                     bos_id, eos_id)


def pack_best_fit(docs: Docs, seq_len: int, pad_id: int, bos_id: int | None = None,
                  eos_id: int | None = None) -> Rows:
    """Best-fit decreasing: whole documents into the fullest row they still fit.

    Documents no longer than a row are never cut. A longer document is cut into full rows plus a remainder piece,
    which is then packed like a short document (and the document counts as cut). Pieces go in by decreasing
    length (ties: document order) into the row with the least room that still fits them (ties: the earliest
    row); rows are numbered in the order they are opened and padded at the end with pad_id.

    Args:
        docs: the documents.
        seq_len: tokens per row (at least 1).
        pad_id: token id that fills the end of each row.
        bos_id, eos_id: the ids of <s> and </s>, which delimit the segments of `Rows.segment_langs`; without
            bos_id each piece is a segment.

    Returns:
        The rows, deterministic for a given input.
    """
    _check(docs, seq_len, pad_id, bos_id, eos_id)
    offsets = np.asarray(docs.offsets, np.int64)
    lengths = np.diff(offsets)
    n_full = lengths // seq_len
    # Full-row pieces of long documents (and documents of exactly seq_len) open rows 0.. in document order.
    full_doc = np.repeat(np.arange(len(lengths)), n_full)
    full_start = (np.arange(len(full_doc)) - np.repeat(np.cumsum(n_full) - n_full, n_full)) * seq_len
    rest = lengths % seq_len
    small_doc = np.flatnonzero(rest)
    small_doc = small_doc[np.lexsort((small_doc, -rest[small_doc]))]  # decreasing length, then document order
    small_len = rest[small_doc]
    small_row, small_pos = _best_fit(small_len.tolist(), seq_len, first_row=len(full_doc))
    row = np.concatenate([np.arange(len(full_doc), dtype=np.int64), small_row])
    pos = np.concatenate([np.zeros(len(full_doc), np.int64), small_pos])
    doc = np.concatenate([full_doc, small_doc])
    start = np.concatenate([full_start, n_full[small_doc] * seq_len])
    length = np.concatenate([np.full(len(full_doc), seq_len, np.int64), small_len])
    order = np.lexsort((pos, row))  # _assemble wants pieces in row order
    row, pos, doc, start, length = (a[order] for a in (row, pos, doc, start, length))
    n_rows = int(row[-1]) + 1 if len(row) else 0
    tokens = np.full(n_rows * seq_len, pad_id, np.uint32)
    src = np.asarray(docs.tokens)
    # One slice copy per piece: cheaper than a boolean-mask scatter of the whole stream.
    for d, s, n in zip((row * seq_len + pos).tolist(), (offsets[doc] + start).tolist(), length.tolist()):
        tokens[d:d + n] = src[s:s + n]
    tokens = tokens.reshape(n_rows, seq_len)
    return _assemble(docs, tokens, row, pos, doc, start, length, bos_id, eos_id)


def _best_fit(lengths: list[int], seq_len: int, first_row: int) -> tuple[np.ndarray, np.ndarray]:
    """Place pieces (longest first) in the open row with the least room that fits; open a row when none does.

    Args:
        lengths: piece lengths, each in 1..seq_len, in the order they are placed.
        seq_len: room in a new row.
        first_row: number of the first row opened here.

    Returns:
        (row, pos): int64 arrays, the row of each piece and where in it the piece starts.
    """
    rooms: list[int] = []  # sorted distinct room values of open rows that are not full
    by_room: dict[int, list[int]] = {}  # room -> heap of row numbers, so ties go to the earliest row
    rows, poss = [], []
    n_rows = first_row
    for length in lengths:
        i = bisect.bisect_left(rooms, length)
        if i == len(rooms):
            row, room = n_rows, seq_len
            n_rows += 1
        else:
            room = rooms[i]
            heap = by_room[room]
            row = heapq.heappop(heap)
            if not heap:
                del by_room[room]
                rooms.pop(i)
        rows.append(row)
        poss.append(seq_len - room)
        left = room - length
        if left:
            heap = by_room.get(left)
            if heap is None:
                by_room[left] = [row]
                bisect.insort(rooms, left)
            else:
                heapq.heappush(heap, row)
    return np.asarray(rows, np.int64), np.asarray(poss, np.int64)


def _assemble(docs: Docs, tokens: np.ndarray, row: np.ndarray, pos: np.ndarray, doc: np.ndarray, start: np.ndarray,
              length: np.ndarray, bos_id: int | None, eos_id: int | None) -> Rows:
    """Rows from their token matrix and their pieces.

    Args:
        docs: the documents the pieces come from.
        tokens: (n_rows, seq_len) token matrix, already filled and padded.
        row: row of each piece; pieces sorted by row, then by position, and every row holds at least one piece.
        pos: where the piece starts in its row.
        doc: document of each piece.
        start: where the piece starts in its document (in tokens).
        length: tokens in the piece.
        bos_id, eos_id: the ids of <s> and </s> that delimit segments; without bos_id, pieces are segments.

    Returns:
        The Rows with per-row counts and the packing totals.
    """
    n_rows = len(tokens)
    lengths = np.diff(np.asarray(docs.offsets, np.int64))
    lang = np.asarray(docs.langs, np.uint8)[doc]
    shares = _byte_shares(np.asarray(docs.nbytes, np.int64)[doc], lengths[doc], start, length)
    # One (piece, language) cell per piece: summed per row, they are the row's counts by language.
    by_lang = np.zeros((len(row), N_LANGS), np.int64)
    by_lang[np.arange(len(row)), lang] = length
    bytes_by_lang = np.zeros((len(row), N_LANGS), np.int64)
    bytes_by_lang[np.arange(len(row)), lang] = shares
    if n_rows:
        first = np.searchsorted(row, np.arange(n_rows))  # each row's first piece
        used = np.add.reduceat(length, first)
        lang_tokens = np.add.reduceat(by_lang, first, axis=0)
        lang_bytes = np.add.reduceat(bytes_by_lang, first, axis=0)
    else:
        used, lang_tokens, lang_bytes = np.zeros(0, np.int64), by_lang, bytes_by_lang  # no pieces: (0, 4) each
    segment_langs, segment_counts = _segments(tokens, used, row, pos, lang, bos_id, eos_id)
    pieces_per_doc = np.bincount(doc, minlength=len(lengths))
    return Rows(tokens=tokens, used=used.astype(np.int32), lang_tokens=lang_tokens.astype(np.int32),
                lang_bytes=lang_bytes, text_bytes=lang_bytes.sum(axis=1, dtype=np.int64),
                segment_langs=segment_langs, segment_counts=segment_counts,
                docs=int(np.count_nonzero(lengths)), docs_cut=int(np.count_nonzero(pieces_per_doc > 1)),
                padding=int(tokens.size - used.sum()))


def _segments(tokens: np.ndarray, used: np.ndarray, row: np.ndarray, pos: np.ndarray, lang: np.ndarray,
              bos_id: int | None, eos_id: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The language of each segment of each row, and the number of segments in each row.

    Given bos_id, a segment starts at each row start, at each <s> and right after each </s> (given eos_id) among a
    row's real tokens, as `gecko_cli.pack.reader.segments` splits rows; without it, at each piece. A segment's
    language is that of the piece holding its first token.

    Args:
        tokens: (n_rows, seq_len) token matrix.
        used: (n_rows,) real tokens in each row.
        row, pos: each piece's row and position in the row; pieces sorted by (row, pos).
        lang: language code of each piece.
        bos_id, eos_id: the ids of <s> and </s>, or None.

    Returns:
        (segment_langs, segment_counts): uint8 languages of all segments, rows in order, and (n_rows,) int32.
    """
    n_rows, seq_len = tokens.shape
    if bos_id is None:
        seg_row, seg_piece = row, np.arange(len(row))
    else:
        flat = tokens.reshape(-1)
        found = [np.flatnonzero(flat == bos_id)]
        if eos_id is not None:
            found.append(np.flatnonzero(flat[:-1] == eos_id) + 1)
        seg_row, seg_pos = np.divmod(np.concatenate(found), seq_len)
        keep = (seg_pos > 0) & (seg_pos < used[seg_row])  # row starts come below, whatever their token
        starts = np.union1d(seg_row[keep] * seq_len + seg_pos[keep], np.arange(n_rows, dtype=np.int64) * seq_len)
        seg_row = starts // seq_len
        seg_piece = np.searchsorted(row * seq_len + pos, starts, side="right") - 1
    return lang[seg_piece], np.bincount(seg_row, minlength=n_rows).astype(np.int32)


def _byte_shares(nbytes: np.ndarray, ntokens: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Each piece's share of its document's bytes, by cumulative flooring.

    share = floor(b * (start + length) / t) - floor(b * start / t), so the shares of a document's pieces add up
    exactly to its b bytes and each is within one byte of b * length / t.

    Args:
        nbytes: bytes of each piece's document.
        ntokens: tokens of each piece's document.
        start: where each piece starts in its document.
        length: tokens in each piece.

    Returns:
        int64 byte share of each piece.
    """
    if len(nbytes) and int(nbytes.max()) * int(ntokens.max()) >= 2**62:
        # int64 products would overflow: exact Python integers instead (slow, only for absurd sizes).
        nbytes, ntokens = nbytes.astype(object), ntokens.astype(object)
        start, length = start.astype(object), length.astype(object)
    end = (nbytes * (start + length)) // ntokens
    return (end - (nbytes * start) // ntokens).astype(np.int64)


def _check(docs: Docs, seq_len: int, pad_id: int, bos_id: int | None, eos_id: int | None) -> None:
    """Raise ValueError when the arguments do not describe valid documents and rows."""
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    if not 0 <= pad_id < 2**32:
        raise ValueError(f"pad_id must fit in uint32, got {pad_id}")
    for name, value in (("bos_id", bos_id), ("eos_id", eos_id)):
        if value is not None and not 0 <= value < 2**32:
            raise ValueError(f"{name} must fit in uint32, got {value}")
    offsets = np.asarray(docs.offsets)
    n = len(offsets) - 1
    if n < 0 or offsets[0] != 0 or offsets[-1] != len(docs.tokens) or np.any(offsets[1:] < offsets[:-1]):
        raise ValueError(f"offsets must rise from 0 to len(tokens)={len(docs.tokens)}")
    if len(docs.langs) != n or len(docs.nbytes) != n:
        raise ValueError(f"{n} documents but {len(docs.langs)} langs and {len(docs.nbytes)} nbytes")
    if n and int(np.max(docs.langs)) >= N_LANGS:
        raise ValueError(f"language codes must be below {N_LANGS}, got {int(np.max(docs.langs))}")


def padding_share(rows: Rows) -> float:
    """Fraction of all token slots that are padding (0.0 for no rows)."""
    return rows.padding / rows.tokens.size if rows.tokens.size else 0.0


def cut_share(rows: Rows) -> float:
    """Fraction of packed documents split over two or more rows (0.0 for no documents)."""
    return rows.docs_cut / rows.docs if rows.docs else 0.0
