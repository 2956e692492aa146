"""Tokenizer efficiency: tokens per 1,000 characters and per byte, per language, against a reference tokenizer.

Fewer tokens for the same text means more text per context window and per training step, so this is the number
the tokenizer targets are stated in (for example Korean at 0.45x Mistral's tokens or fewer).
"""

from __future__ import annotations

from gecko_cli.errors import ConfigError
from gecko_cli.tokenizer.refs import Encoder

BATCH_DOCS = 1024  # bounds the ids held at once while keeping the libraries' batch encoders busy


def _group(docs: list[tuple[str, str]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for lang, text in docs:
        groups.setdefault(lang, []).append(text)
    return groups


def _count_tokens(encoder: Encoder, texts: list[str]) -> int:
    total = 0
    for start in range(0, len(texts), BATCH_DOCS):
        total += sum(len(ids) for ids in encoder.encode_batch(texts[start:start + BATCH_DOCS]))
    return total


def _ratio(value: float, reference: float) -> float | None:
    return value / reference if reference else None


def _unique_names(encoders: list[Encoder]) -> list[str]:
    names: list[str] = []
    for encoder in encoders:
        name, n = encoder.name, 2
        while name in names:
            name, n = f"{encoder.name}#{n}", n + 1
        names.append(name)
    return names


def measure(encoders: list[Encoder], docs: list[tuple[str, str]]) -> dict:
    """Count each encoder's tokens on each language's documents.

    Args:
        encoders: the tokenizers to compare; the first is the reference that `ratio_to` divides by.
        docs: (lang, text) pairs; languages keep the order in which they first appear.

    Returns:
        `{"reference": name, "languages": [lang, ...], "encoders": {name: {"vocab_size": int, "languages":
        {lang: {"documents", "characters", "bytes", "tokens", "tokens_per_1k_chars", "tokens_per_byte",
        "ratio_to"}}}}}`, where `ratio_to` is this encoder's tokens_per_1k_chars over the reference's (None when
        the reference has none). Names that repeat get a `#2`, `#3` suffix.

    Raises:
        ConfigError: no encoders were given.
    """
    if not encoders:
        raise ConfigError("no tokenizers to measure", hint="pass at least one tokenizer path")
    groups = _group(docs)
    sizes = {lang: (len(texts), sum(map(len, texts)), sum(len(t.encode("utf-8")) for t in texts))
             for lang, texts in groups.items()}
    result: dict = {"languages": list(groups), "encoders": {}}
    for name, encoder in zip(_unique_names(encoders), encoders):
        per_lang = {}
        for lang, texts in groups.items():
            documents, characters, n_bytes = sizes[lang]
            tokens = _count_tokens(encoder, texts)
            per_lang[lang] = {"documents": documents, "characters": characters, "bytes": n_bytes, "tokens": tokens,
                              "tokens_per_1k_chars": 1000 * tokens / characters if characters else 0.0,
                              "tokens_per_byte": tokens / n_bytes if n_bytes else 0.0}
        result["encoders"][name] = {"vocab_size": encoder.vocab_size, "languages": per_lang}
    result["reference"] = next(iter(result["encoders"]))
    _set_ratios(result, result["reference"])
    return result


def _set_ratios(result: dict, reference: str) -> None:
    ref = result["encoders"][reference]["languages"]
    for entry in result["encoders"].values():
        for lang, row in entry["languages"].items():
            row["ratio_to"] = _ratio(row["tokens_per_1k_chars"], ref[lang]["tokens_per_1k_chars"])


def markdown(result: dict, reference: str | None = None) -> str:
    """Render a `measure` result as a markdown table.

    Args:
        result: what `measure` returned.
        reference: the tokenizer the ratios are against; defaults to the result's reference (its first encoder).

    Returns:
        A table with one row per tokenizer and, per language, tokens per 1,000 characters and the ratio to the
        reference (as `0.43x`), ending in a newline.

    Raises:
        ConfigError: `reference` names no tokenizer in the result.
    """
    reference = reference or result["reference"]
    encoders = result["encoders"]
    if reference not in encoders:
        raise ConfigError(f"reference tokenizer {reference!r} is not in the result",
                          hint=f"use one of: {', '.join(encoders)}")
    langs = result["languages"]
    ref = encoders[reference]["languages"]
    header = ["tokenizer", "vocab"] + [c for lang in langs for c in (f"{lang} tok/1k chars", f"{lang} vs {reference}")]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for name, entry in encoders.items():
        cells = [name, f"{entry['vocab_size']:,}"]
        for lang in langs:
            per_1k = entry["languages"][lang]["tokens_per_1k_chars"]
            ratio = _ratio(per_1k, ref[lang]["tokens_per_1k_chars"])
            cells += [f"{per_1k:.1f}", "n/a" if ratio is None else f"{ratio:.3f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
