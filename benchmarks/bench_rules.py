#!/usr/bin/env python3
"""Benchmark the quality rules and the personal-data scrubber of `gecko balance` on the shared corpus.

Runs `rules.check` (each document's true label as its language) and `pii.scrub` over every document of
shared/corpus, and prints markdown tables: drops per source and rule, personal data found per source and kind,
anonymised examples of what the scrubber matched (digits shown as 9, letters as x), and single-core throughput
in MB of UTF-8 text per second for check and scrub separately (best of --repeat timed passes, after a warm-up),
and for `check_batch` and `scrub_batch`, which `gecko balance` runs (batches of BATCH documents of one language);
their results are checked against `check` and `scrub`, document by document.
Everything goes to OUT/rules.json too. The scrubber runs on every document here, dropped or not; the stage
scrubs only kept ones. `kocohub_news_comments` holds offensive comments: counted, never quoted.

Usage: python benchmarks/bench_rules.py [--out benchmarks/out] [--repeat 3] [--examples 6]
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import io
import json
import os
import platform
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import zstandard

from gecko_cli import __version__
from gecko_cli.balance import pii, rules

REPO = Path(__file__).resolve().parent.parent
LANGS = ("ko", "en", "code")
NOT_QUOTED = {"kocohub_news_comments"}  # offensive: statistics only
TARGET_MB_S = 20.0  # the whole balance stage, per core
BATCH = 2048  # documents per batch call, as `gecko balance` reads them
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in pii.PLACEHOLDERS.values()))
_KIND_OF = {p: k for k, p in pii.PLACEHOLDERS.items()}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out"), help="output folder [benchmarks/out]")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes; the fastest counts [3]")
    ap.add_argument("--examples", type=int, default=6, help="anonymised matches shown per kind [6]")
    return ap.parse_args(argv)


def shared_dir() -> Path:
    """The shared data folder: $GECKO_SHARED, else ../shared next to the repository."""
    path = Path(os.environ.get("GECKO_SHARED") or REPO.parent / "shared")
    if not (path / "corpus").is_dir():
        sys.exit(f"error: {path}/corpus not found\n\nhint: set GECKO_SHARED to the shared folder")
    return path


def load_corpus(corpus: Path) -> list[dict]:
    """Every document of the corpus, in file order: {"text", "lang", "source"}."""
    docs = []
    for path in sorted(glob.glob(str(corpus / "*" / "*.jsonl.zst"))):
        with open(path, "rb") as fh:
            lines = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8")
            for line in lines:
                d = json.loads(line)
                docs.append({"text": d["text"], "lang": d["lang"], "source": d["source"]})
    return docs


def time_per_lang(docs: list[dict], fn, repeat: int) -> dict:
    """Single-core MB/s of `fn(text, lang)` per language and overall: the fastest of `repeat` passes."""
    out, total_s, total_b = {}, 0.0, 0
    for lang in LANGS:
        pairs = [(d["text"], lang) for d in docs if d["lang"] == lang]
        size = sum(len(t.encode("utf-8", "surrogatepass")) for t, _ in pairs)
        for t, lg in pairs[:2000]:  # warm-up
            fn(t, lg)
        best = min(_timed(fn, pairs) for _ in range(repeat))
        out[lang] = {"docs": len(pairs), "mb": size / 1e6, "s": best, "mb_s": size / 1e6 / best,
                     "us_per_doc": best / len(pairs) * 1e6}
        total_s, total_b = total_s + best, total_b + size
    out["all"] = {"docs": len(docs), "mb": total_b / 1e6, "s": total_s, "mb_s": total_b / 1e6 / total_s,
                  "us_per_doc": total_s / len(docs) * 1e6}
    return out


def _timed(fn, pairs) -> float:
    start = time.perf_counter()
    for text, lang in pairs:
        fn(text, lang)
    return time.perf_counter() - start


def time_batches_per_lang(docs: list[dict], fn, repeat: int) -> dict:
    """`time_per_lang` for a function of a batch: fn(texts, lang) over batches of BATCH documents."""
    out, total_s, total_b = {}, 0.0, 0
    for lang in LANGS:
        texts = [d["text"] for d in docs if d["lang"] == lang]
        parts = [texts[k:k + BATCH] for k in range(0, len(texts), BATCH)]
        size = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
        fn(parts[0], lang)  # warm-up
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            for part in parts:
                fn(part, lang)
            best = min(best, time.perf_counter() - start)
        out[lang] = {"docs": len(texts), "mb": size / 1e6, "s": best, "mb_s": size / 1e6 / best,
                     "us_per_doc": best / len(texts) * 1e6}
        total_s, total_b = total_s + best, total_b + size
    out["all"] = {"docs": len(docs), "mb": total_b / 1e6, "s": total_s, "mb_s": total_b / 1e6 / total_s,
                  "us_per_doc": total_s / len(docs) * 1e6}
    return out


def batch_agreement(docs: list[dict], cfgs: list[rules.RulesConfig]) -> dict[str, int]:
    """How many documents `check_batch` (under each config, with each document's label and with every
    language) and `scrub_batch` judge differently from `check` and `scrub`: all must be 0."""
    texts = [d["text"] for d in docs]
    wrong = Counter()
    for k in range(0, len(texts), BATCH):
        part, labels = texts[k:k + BATCH], [d["lang"] for d in docs[k:k + BATCH]]
        for cfg in cfgs:
            for langs in (labels, *([lang] * len(part) for lang in LANGS)):
                got = rules.check_batch(part, langs, cfg)
                wrong["check"] += sum(a != rules.check(t, lang, cfg) for a, t, lang in zip(got, part, langs))
        changed, found = pii.scrub_batch(part)
        expected = Counter()
        for i, text in enumerate(part):
            out, kinds = pii.scrub(text)
            expected.update(kinds)
            wrong["scrub"] += changed.get(i, text) != out
        wrong["scrub_counts"] += found != expected
    return {"documents": len(texts), **{k: wrong[k] for k in ("check", "scrub", "scrub_counts")}}


def drops(docs: list[dict], cfg: rules.RulesConfig) -> dict[str, dict]:
    """Per source: its language, documents, and the documents each rule dropped."""
    per = {}
    for d in docs:
        s = per.setdefault(d["source"], {"lang": d["lang"], "docs": 0, "dropped": Counter()})
        s["docs"] += 1
        reason = rules.check(d["text"], d["lang"], cfg)
        if reason:
            s["dropped"][reason] += 1
    return per


def matches(text: str, out: str) -> list[tuple[str, str, str]]:
    """(kind, original value, context in the scrubbed text) of each placeholder in `out`."""
    found, pos_in, pos_out = [], 0, 0
    for m in _PLACEHOLDER.finditer(out):
        before = out[pos_out:m.start()]
        start = pos_in + len(before)
        nxt = _PLACEHOLDER.search(out, m.end())
        after = out[m.end():nxt.start() if nxt else len(out)]
        end = text.find(after, start + 1) if after else (len(text) if nxt is None else start + 1)
        found.append((_KIND_OF[m.group()], text[start:end], out[max(0, m.start() - 35):m.end() + 25]))
        pos_in, pos_out = end, m.end()
    return found


def anonymise(value: str) -> str:
    """The shape of a value: digits as 9, letters as x (X), other characters kept; e-mails keep their TLD."""
    shape = re.sub(r"[0-9]", "9", re.sub(r"[A-Z]", "X", re.sub(r"[a-z]", "x", value)))
    return shape.rsplit(".", 1)[0] + "." + value.rsplit(".", 1)[1] if "@" in value and "." in value else shape


def scan_pii(docs: list[dict], per_kind: int) -> tuple[dict[str, Counter], dict[str, list[dict]]]:
    """Per source, how many of each kind were found; per kind, a few anonymised examples."""
    counts: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, list[dict]] = defaultdict(list)
    for d in docs:
        out, found = pii.scrub(d["text"])
        counts[d["source"]].update(found)
        if not found or d["source"] in NOT_QUOTED:
            continue
        for kind, value, context in matches(d["text"], out):
            if len(examples[kind]) < per_kind and all(e["source"] != d["source"] for e in examples[kind][-2:]):
                examples[kind].append({"source": d["source"], "shape": anonymise(value),
                                       "context": " ".join(context.split())})
    return counts, examples


def print_drops(per: dict[str, dict]) -> None:
    """A markdown table of the documents each rule dropped from each source."""
    names = rules.rule_names()
    used = [n for n in names if any(s["dropped"][n] for s in per.values())]
    print("## Drops per source and rule (documents, % of the source)\n")
    print("| lang | source | docs | dropped | " + " | ".join(used) + " |")
    print("|---|---|---:|---:|" + "---:|" * len(used))
    for source, s in sorted(per.items(), key=lambda kv: (LANGS.index(kv[1]["lang"]), kv[0])):
        total = sum(s["dropped"].values())
        cells = [f"{s['dropped'][n]} ({100 * s['dropped'][n] / s['docs']:.2f}%)" if s["dropped"][n] else ""
                 for n in used]
        print(f"| {s['lang']} | {source} | {s['docs']} | {total} ({100 * total / s['docs']:.2f}%) | "
              + " | ".join(cells) + " |")
    print()


def print_pii(counts: dict[str, Counter], examples: dict[str, list[dict]]) -> None:
    """A markdown table of the personal data found per source and kind, then the anonymised examples."""
    print("## Personal data found per source (every document scrubbed)\n")
    print("| source | " + " | ".join(pii.KINDS) + " |")
    print("|---|" + "---:|" * len(pii.KINDS))
    for source in sorted(counts):
        if any(counts[source].values()):
            print(f"| {source} | " + " | ".join(str(counts[source][k] or "") for k in pii.KINDS) + " |")
    totals = Counter()
    for c in counts.values():
        totals.update(c)
    print("| **all** | " + " | ".join(str(totals[k]) for k in pii.KINDS) + " |\n")
    print("Anonymised examples (digits as 9, letters as x; context from the scrubbed text):\n")
    for kind in pii.KINDS:
        for e in examples.get(kind, []):
            print(f"- {kind} `{e['shape']}` ({e['source']}): {e['context']!r}")
    print()


def print_speed(speed: dict[str, dict], agreement: dict[str, int]) -> None:
    """Markdown tables of the single-core throughput of check and scrub per language, one document a call and
    in batches."""
    for check, scrub, title in (("check", "scrub", "one document a call"),
                                ("check_batch", "scrub_batch", f"batches of {BATCH}, as `gecko balance` runs them")):
        print(f"## Throughput on one core (MB of UTF-8 text per second): {title}\n")
        print(f"| lang | docs | MB | {check} MB/s | us/doc | {scrub} MB/s | us/doc | both MB/s |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for lang in (*LANGS, "all"):
            c, s = speed[check][lang], speed[scrub][lang]
            both = c["mb"] / (c["s"] + s["s"])
            print(f"| {lang} | {c['docs']} | {c['mb']:.1f} | {c['mb_s']:.1f} | {c['us_per_doc']:.1f} | "
                  f"{s['mb_s']:.1f} | {s['us_per_doc']:.1f} | {both:.1f} |")
        both = speed[check]["all"]["mb"] / (speed[check]["all"]["s"] + speed[scrub]["all"]["s"])
        print(f"\n{check} + {scrub} together: {both:.1f} MB/s, {100 * TARGET_MB_S / both:.0f} % of the time the "
              f"stage may spend per MB at its target of {TARGET_MB_S:.0f} MB/s per core\n")
    ok = not (agreement["check"] or agreement["scrub"] or agreement["scrub_counts"])
    print(f"check_batch and scrub_batch agree with check and scrub on all {agreement['documents']:,} documents: "
          f"{'PASS' if ok else 'FAIL'} ({agreement})\n")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    docs = load_corpus(shared_dir() / "corpus")
    cfg = rules.RulesConfig()
    per = drops(docs, cfg)
    counts, examples = scan_pii(docs, args.examples)
    speed = {"check": time_per_lang(docs, lambda text, lang: rules.check(text, lang, cfg), args.repeat),
             "scrub": time_per_lang(docs, lambda text, lang: pii.scrub(text), args.repeat),
             "check_batch": time_batches_per_lang(
                 docs, lambda texts, lang: rules.check_batch(texts, [lang] * len(texts), cfg), args.repeat),
             "scrub_batch": time_batches_per_lang(docs, lambda texts, lang: pii.scrub_batch(texts), args.repeat)}
    strict = dataclasses.replace(cfg, max_symbol_word_ratio=0.02, min_mean_line_chars=40, max_dup_line_frac=0.1,
                                 max_jamo_frac=0.1, code_long_line_chars=80, max_code_literal_frac=0.05)
    agreement = batch_agreement(docs, [cfg, strict])
    print_drops(per)
    print_pii(counts, examples)
    print_speed(speed, agreement)
    result = {
        "machine": {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "gecko": __version__},
        "config": dataclasses.asdict(cfg),
        "rules": {src: {"lang": s["lang"], "docs": s["docs"], "dropped": dict(s["dropped"]),
                        "drop_rate": sum(s["dropped"].values()) / s["docs"]} for src, s in sorted(per.items())},
        "pii": {src: dict(c) for src, c in sorted(counts.items()) if c},
        "pii_examples": examples,
        "throughput": speed,
        "batch_agreement": agreement,
    }
    (out / "rules.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out / 'rules.json'}", file=sys.stderr)
    return 0 if not (agreement["check"] or agreement["scrub"] or agreement["scrub_counts"]) else 1


if __name__ == "__main__":
    sys.exit(main())
