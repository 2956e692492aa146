"""`gecko train-tokenizer` and `gecko tokenizer-report`: train, check, measure, report."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass

from gecko_cli import __version__, schemas
from gecko_cli.console import log
from gecko_cli.errors import ConfigError, DataError
from gecko_cli.shards import (
    MANIFEST,
    discover,
    fingerprint,
    iter_records,
    read_manifest,
    write_bytes_atomic,
    write_manifest,
)
from gecko_cli.stage import WORK_DIR
from gecko_cli.tokenizer import sample as sampling
from gecko_cli.tokenizer.config import TokenizerConfig
from gecko_cli.tokenizer.folder import load_tokenizer, read_tokenizer, tokenizer_file

#: Texts every tokenizer must round-trip besides the held-out documents: emoji, rare Hanja, control
#: characters, mixed scripts, white space of every kind, and text that looks like a byte token.
TRICKY = ("👩‍👩‍👧‍👦 🇰🇷 ✨", "龘 靐 齉 𠀀 𪚥", "tab\there\x00nul\x07bell\x1b[0m\r\n", "한국어 English 日本語 русский ١٢٣",
          "   leading and trailing   ", "\n\n\tindented\n    code\n", "<0x41> <0xFF> look-alikes of byte tokens", "x" * 300)
FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "report.json", "report.md")


@dataclass
class TokenizerReport:
    """The report of a run (also written to report.json), and whether it only found a finished result."""

    output: str
    report: dict
    already_complete: bool = False


def train_tokenizer(cfg: TokenizerConfig) -> TokenizerReport:
    """Train the tokenizer on a sample of the input, check it on held-out documents and write its folder.

    While it runs, the folder holds a `.gecko-work/` marker; manifest.json, written last, marks it complete.
    """
    from gecko_cli.tokenizer import refs, trainer

    references = [refs.load(p) for p in cfg.compare]  # a bad --compare path stops the run before any work
    files = discover(cfg.input, cfg.exclude)
    fp = fingerprint({"settings": cfg.output_settings(), "inputs": [[f.relpath, f.size] for f in files]})
    if _prepare(cfg, fp):
        with open(os.path.join(cfg.output, "report.json"), encoding="utf-8") as fh:
            return TokenizerReport(cfg.output, json.load(fh), already_complete=True)
    mix = sampling.language_mix(cfg.input)
    spec = trainer.TrainSpec(vocab=cfg.vocab, byte_fallback=cfg.byte_fallback, max_token_chars=cfg.max_token_chars,
                             min_frequency=cfg.min_frequency)
    samples: list[sampling.Sample] = []

    def texts():  # the trainer reads the sample twice; each pass draws the same documents afresh
        samples.append(sampling.Sample(quota=mix or {}))
        return sampling.stream(files, samples[-1], sample_bytes=cfg.sample_bytes,
                               heldout_fraction=cfg.heldout_fraction, heldout_bytes=cfg.heldout_bytes, seed=cfg.seed,
                               text_field=cfg.text_field, on_bad=cfg.on_bad_record)

    t0 = time.perf_counter()
    try:
        tok = trainer.train(texts, spec)
    except DataError:
        if samples and not samples[-1].train_docs:
            raise DataError(f"{cfg.input}: no documents to train on ({len(files)} input file(s), "
                            f"{len(samples[-1].heldout)} held out for the checks)",
                            hint="point it at the documents, e.g. the output of `gecko balance`") from None
        raise
    drawn = samples[-1]
    seconds = time.perf_counter() - t0
    trained = sum(drawn.train_bytes.values())
    log.info(f"train-tokenizer: trained on {trained / 1e6:.1f} MB in {seconds:.1f}s")
    if tok.get_vocab_size() != cfg.vocab:
        raise DataError(f"only {tok.get_vocab_size():,} tokens could be learned from {trained / 1e6:.1f} MB of text, "
                        f"not --vocab {cfg.vocab:,}", hint="give it more text, or ask for a smaller --vocab")
    if not drawn.heldout:
        raise DataError(f"{cfg.input}: no document was held out for the checks",
                        hint="give it more documents, or raise --heldout-fraction")
    os.makedirs(os.path.join(cfg.output, WORK_DIR), exist_ok=True)
    trainer.save(tok, cfg.output)
    report = build_report(cfg.output, drawn.heldout, references)
    report["training"] = {"seconds": round(seconds, 3), "bytes_by_lang": drawn.train_bytes, "documents": drawn.train_docs,
                          "target_mix": mix, "heldout_documents": len(drawn.heldout),
                          "heldout_bytes": drawn.heldout_bytes}
    report["spec"] = {"vocab": cfg.vocab, "byte_fallback": cfg.byte_fallback, "max_token_chars": cfg.max_token_chars,
                      "min_frequency": cfg.min_frequency}
    _write_report(cfg.output, report)
    write_manifest(cfg.output, {"stage": "train-tokenizer", "gecko_version": __version__, "schema": "tokenizer",
                                "fingerprint": fp, "config": {"input": cfg.input, **cfg.output_settings()},
                                "inputs": [{"path": f.relpath, "bytes": f.size} for f in files],
                                "shards": [], "files": list(FILES), "stats": {"training": report["training"]}})
    shutil.rmtree(os.path.join(cfg.output, WORK_DIR), ignore_errors=True)
    return TokenizerReport(cfg.output, report)


def build_report(path: str, docs: list[tuple[str, str]], references: list) -> dict:
    """Checks and efficiency of the tokenizer at `path` (a folder or its tokenizer.json) on documents, beside
    the `references` (encoders loaded by `refs.load`)."""
    from gecko_cli.tokenizer import checks, efficiency, refs

    tok, _ = read_tokenizer(tokenizer_file(path))
    encoders = [*references, refs.load(path)]
    result = efficiency.measure(encoders, docs)
    return {"round_trip": checks.round_trip(tok, [*(t for _, t in docs), *TRICKY]),
            "single_tokens": checks.single_tokens(tok),
            "composition": checks.composition(tok), "efficiency": result,
            "efficiency_table": efficiency.markdown(result, reference=encoders[0].name if references else None)}


def _write_report(folder: str, report: dict) -> None:
    write_bytes_atomic(os.path.join(folder, "report.json"),
                       (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    write_bytes_atomic(os.path.join(folder, "report.md"), report_markdown(report).encode("utf-8"))


def report_markdown(report: dict) -> str:
    """The report as markdown: checks, efficiency table, vocabulary composition, training."""
    rt, st = report["round_trip"], report["single_tokens"]
    lines = ["# Tokenizer report", "",
             f"- round trip: {rt['documents'] - rt['failures']:,} of {rt['documents']:,} held-out documents exact; "
             f"<unk> ids: {rt['unk_ids']}",
             f"- single tokens (A-D with and without a space, digits): {'ok' if st['ok'] else 'NOT ok'}",
             "", "## Efficiency (held-out documents)", "", report["efficiency_table"], "",
             "## Vocabulary", "", "| kind | tokens |", "|---|---:|"]
    lines += [f"| {k} | {v:,} |" for k, v in report["composition"].items()]
    if "training" in report:
        t = report["training"]
        lines += ["", "## Training", "", f"- {t['documents']:,} documents, {sum(t['bytes_by_lang'].values()) / 1e6:.1f} MB "
                  f"({', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in t['bytes_by_lang'].items())}) in {t['seconds']:.1f}s"]
    return "\n".join(lines) + "\n"


def _prepare(cfg: TokenizerConfig, fp: str) -> bool:
    """True when the output already holds this exact tokenizer; refuses another one without --overwrite."""
    out = cfg.output
    if os.path.exists(os.path.join(out, MANIFEST)):
        manifest = read_manifest(out)
        if manifest.get("fingerprint") == fp and not cfg.overwrite:
            return True
        if not cfg.overwrite:
            raise ConfigError(f"{out} holds another tokenizer (other settings or inputs)",
                              hint="pass --overwrite to replace it, or choose another output folder")
    elif os.path.isdir(out) and any(n in (*FILES, WORK_DIR) for n in os.listdir(out)) and not cfg.overwrite:
        raise ConfigError(f"{out} holds tokenizer files from an unfinished or foreign run",
                          hint="pass --overwrite to replace them, or choose another output folder")
    elif os.path.isdir(out) and os.listdir(out) and not cfg.overwrite:
        raise ConfigError(f"{out} is not empty and is not a gecko tokenizer", hint="choose another output folder")
    for name in (MANIFEST, *FILES):
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    shutil.rmtree(os.path.join(out, WORK_DIR), ignore_errors=True)
    return False


def tokenizer_report(path: str, data: str, compare: tuple[str, ...], max_bytes: int, on_bad: str = "error") -> dict:
    """Checks and efficiency of the tokenizer at `path` (a folder or its tokenizer.json) on the documents of
    `data` (up to `max_bytes` of text, in file order), beside the `compare` tokenizers.

    The tokenizers are checked before any document is read. A bad record stops the report with an error naming
    its file and line, unless `on_bad` is "skip".
    """
    from gecko_cli.balance.langid import detect
    from gecko_cli.tokenizer import refs

    load_tokenizer(path)
    references = [refs.load(p) for p in compare]
    docs, used = [], 0
    for f in discover(data):
        for batch in iter_records(f, want_table=True, on_bad=on_bad):
            for text, lang in zip(batch.texts, batch.table[schemas.LANG].to_pylist()):
                if text and used < max_bytes:
                    docs.append((lang or detect(text), text))
                    used += len(text.encode("utf-8"))
        if used >= max_bytes:
            break
    if not docs:
        raise DataError(f"{data}: no documents to measure", hint="pass a folder of documents with --data")
    return build_report(path, docs, references)
