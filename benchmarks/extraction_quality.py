"""Article-body quality on the scrapinghub article-extraction benchmark (181 news pages).

    python benchmarks/extraction_quality.py                  # archiver vs the published files
    python benchmarks/extraction_quality.py --only trafilatura   # just check the scorer
    python benchmarks/extraction_quality.py --dump out.json  # also write archiver's predictions

The metric is the benchmark's own (upstream evaluate.py, described in the shared SOURCES.md):
text is tokenised with `\\w+`; shingles are word 4-grams (a text under 4 tokens is one
shingle); per page TP/FP/FN are multiset overlaps normalised to TP+FP+FN = 1, so each page
weighs the same; precision is the mean over pages with TP+FP > 0, recall the mean over pages
with TP+FN > 0 (a page with FP = FN = 0 scores 1); F1 = 2PR/(P+R) of those means.
Accuracy is the share of pages whose token list equals the truth's. ± is 1.96 x the
bootstrap standard deviation (seeded, so reruns print the same figures).

What archiver is scored on: the article's `body` paragraphs joined by newlines (the lead is
a separate field and, for generic pages, usually a meta description not printed in the
body). A page archiver calls "no article" scores as an empty prediction.

Shared material is found at ../shared (next to the repository) or $ARCHIVER_SHARED.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a clean clone, without installing
    sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("ARCHIVER_SHARED") or REPO.parent / "shared")
BENCHMARK = SHARED / "conformance" / "extraction" / "scrapinghub"
# The benchmark's shingle length (upstream evaluate.py, ngram_n=4).
NGRAM = 4
# Upstream uses 1000 bootstrap resamples; the ± only orients, so fewer keeps runs quick.
BOOTSTRAP = 200
# 1.96 standard deviations: the upstream "±" is a 95% interval.
Z95 = 1.96
_TOKEN = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)

Counts = tuple[float, float, float]  # TP, FP, FN normalised to sum 1 (or all 0)


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    accuracy: float
    pages: int


def tokens(text: str | None) -> list[str]:
    return _TOKEN.findall(text or "")


def shingles(text: str | None, n: int = NGRAM) -> Counter[tuple[str, ...]]:
    """Word n-grams as a multiset; a text shorter than n tokens is one shingle (or none)."""
    words = tokens(text)
    grams = (tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1)))
    return Counter(gram for gram in grams if gram)


def page_counts(truth: str | None, pred: str | None) -> Counts:
    """TP/FP/FN of one page over shingles, normalised so that the page weighs 1."""
    want, got = shingles(truth), shingles(pred)
    tp = sum((want & got).values())
    fp = sum((got - want).values())
    fn = sum((want - got).values())
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp) if tp + fp else 0.0


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn) if tp + fn else 0.0


def aggregate(counts: list[Counts]) -> tuple[float, float, float]:
    """(precision, recall, F1): means over pages, F1 from the two means (not a mean of F1s)."""
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    return precision, recall, 2 * precision * recall / (precision + recall)


def score(truth: dict[str, dict[str, Any]], pred: dict[str, dict[str, Any]]) -> Scores:
    if truth.keys() != pred.keys():
        raise ValueError("prediction keys do not match the ground truth")
    counts = [page_counts(truth[k].get("articleBody"), pred[k].get("articleBody"))
              for k in truth]
    exact = sum(tokens(truth[k].get("articleBody")) == tokens(pred[k].get("articleBody"))
                for k in truth)
    p, r, f1 = aggregate(counts)
    return Scores(p, r, f1, exact / len(truth), len(truth))


def bootstrap_ci(truth: dict[str, dict[str, Any]], pred: dict[str, dict[str, Any]],
                 rounds: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float, float]:
    """± (95%) of precision, recall and F1 by resampling pages with replacement."""
    counts = [page_counts(truth[k].get("articleBody"), pred[k].get("articleBody"))
              for k in truth]
    rng = random.Random(seed)
    samples = [aggregate([rng.choice(counts) for _ in counts]) for _ in range(rounds)]
    return tuple(Z95 * statistics.stdev(s[i] for s in samples)  # type: ignore[return-value]
                 for i in range(3))


def load_predictions(path: Path) -> dict[str, dict[str, Any]]:
    """A published prediction file: {"version": ..., "output": {...}} or a bare dict."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["output"] if "output" in data and "version" in data else data


def load_truth(root: Path = BENCHMARK) -> dict[str, dict[str, Any]]:
    return json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))


def load_page(root: Path, key: str) -> bytes:
    return gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())


def archiver_body(url: str, payload: bytes) -> str:
    """What archiver stores as the article body for one page ('' when not an article)."""
    from archiver.extract import NotAnArticle, SourceRecord, extract

    source = SourceRecord(
        url=url, payload=payload, content_type="text/html; charset=utf-8",
        warc_path="benchmark", record_id="<urn:uuid:00000000-0000-0000-0000-000000000000>",
        warc_date="2020-01-24T00:00:00Z",
        payload_digest="sha256:" + hashlib.sha256(payload).hexdigest(), http_status=200)
    article = extract(source)
    return "" if isinstance(article, NotAnArticle) else "\n".join(article["body"])


def predict(truth: dict[str, dict[str, Any]], root: Path = BENCHMARK,
            body: Callable[[str, bytes], str] = archiver_body,
            keys: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Run an extractor over the benchmark pages, in the shape of a prediction file."""
    return {key: {"articleBody": body(truth[key]["url"], load_page(root, key))}
            for key in (keys if keys is not None else truth)}


def _row(name: str, s: Scores, ci: tuple[float, float, float] | None) -> str:
    pm = (lambda i: f" ± {ci[i]:.3f}") if ci else (lambda i: "")
    return (f"{name:<22} precision={s.precision:.3f}{pm(0)}  recall={s.recall:.3f}{pm(1)}  "
            f"F1={s.f1:.3f}{pm(2)}  accuracy={s.accuracy:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=BENCHMARK)
    parser.add_argument("--only", help="score just this published file (e.g. trafilatura)")
    parser.add_argument("--dump", type=Path, help="write archiver's predictions here")
    parser.add_argument("--no-ci", action="store_true", help="skip the bootstrap ±")
    args = parser.parse_args(argv)
    if not (args.root / "ground-truth.json").exists():
        print(f"benchmark not found at {args.root} (set ARCHIVER_SHARED)", file=sys.stderr)
        return 2
    truth = load_truth(args.root)
    runs: list[tuple[str, dict[str, dict[str, Any]]]] = []
    for path in sorted((args.root / "output").glob("*.json")):
        if args.only in (None, path.stem):
            runs.append((f"{path.stem} (published)", load_predictions(path)))
    if args.only is None:
        started = time.perf_counter()
        ours = predict(truth, args.root)
        seconds = time.perf_counter() - started
        print(f"archiver: {len(ours)} pages in {seconds:.1f} s", file=sys.stderr)
        if args.dump:
            args.dump.write_text(json.dumps(ours, ensure_ascii=False, indent=1, sort_keys=True))
        runs.insert(0, ("archiver", ours))
    for name, pred in runs:
        ci = None if args.no_ci else bootstrap_ci(truth, pred)
        print(_row(name, score(truth, pred), ci))
    return 0


if __name__ == "__main__":
    sys.exit(main())
