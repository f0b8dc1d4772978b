"""Figures of the embeddings stage, printed (a command, not a test)::

    python -m tests.router.bench_embeddings --model /tmp/m --csv TEST.csv --text-column utterance

For a model trained with the embeddings extra: ``classify`` p50/p99 one message at a time on one core
(the stage as workers run it), the share of messages that asked the second stage, the embedding's own
p50/p99 at the model's token cap (``--compare-tokens N``: also at other caps, interleaved), the same with the
second stage asked for every message, short texts and mails of 12 texts joined (its worst case),
and the process's peak RSS after importing the worker package, loading the model and the embedder
(the figure a worker adds; run it in a fresh process).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np


def _pct(samples: list[tuple[float, float]]) -> dict[str, float]:
    """Wall-clock and CPU (this thread's) percentiles: on a shared machine the CPU figure is the one-core cost,
    the wall figure adds the waits for a core."""
    wall = np.asarray([w for w, _ in samples]) * 1e3
    cpu = np.asarray([c for _, c in samples]) * 1e3
    return {
        "p50_ms": round(float(np.percentile(wall, 50)), 3),
        "p99_ms": round(float(np.percentile(wall, 99)), 3),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 3),
        "cpu_p99_ms": round(float(np.percentile(cpu, 99)), 3),
        "cpu_mean_ms": round(float(cpu.mean()), 3),
    }


def _timed(fn, *args) -> tuple[float, float]:  # noqa: ANN001, ANN002
    w, c = time.perf_counter(), time.thread_time()
    fn(*args)
    return time.perf_counter() - w, time.thread_time() - c


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--text-column", required=True)
    parser.add_argument("--predictions", type=int, default=1000)
    parser.add_argument(
        "--compare-tokens",
        type=int,
        action="append",
        default=[],
        help="also time a long mail's embedding cut at N word pieces, interleaved with MAX_TOKENS (repeat)",
    )
    args = parser.parse_args()
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import helpline.workers.pipeline  # noqa: F401 - what a worker imports
    from threadpoolctl import threadpool_limits

    from helpline.router.categories import category
    from helpline.router.categories import embeddings
    from helpline.router.categories.model_store import load_model
    from helpline.router.categories.model_train import read_csv

    rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = load_model(args.model)
    assert model.second is not None, "train the model with --embeddings on"
    texts = [model.text_of("", t) for t in read_csv(args.csv, args.text_column, args.text_column).texts]
    emb = embeddings.get_embedder()
    out: dict[str, object] = {"model": args.model, "threshold": model.second.threshold, "texts": len(texts)}
    with threadpool_limits(limits=1):
        for t in texts[:20]:
            category.classify("", t, model)
        times, asked = [], 0
        for i in range(args.predictions):
            t = texts[i % len(texts)]
            times.append(_timed(category.classify, "", t, model))
            asked += model.first_stage_proba([t])[0].max() < model.second.threshold
        out["classify"] = _pct(times)
        out["second_stage_share"] = round(asked / args.predictions, 4)
        e_times = []
        for i in range(min(args.predictions, 500)):
            e_times.append(_timed(emb.embed_one, texts[i % len(texts)]))
        out["embed_one"] = _pct(e_times)
        long_mail = " ".join(texts[:40])
        caps = [embeddings.MAX_TOKENS, *[n for n in args.compare_tokens if n != embeddings.MAX_TOKENS]]
        embedders = {n: emb if n == embeddings.MAX_TOKENS else embeddings.Embedder(max_tokens=n) for n in caps}
        l_times: dict[int, list[tuple[float, float]]] = {n: [] for n in caps}
        for _ in range(200):  # interleaved, so that every cap sees the same load
            for n in caps:
                l_times[n].append(_timed(embedders[n].embed_one, long_mail))
        out["embed_one_long_mail"] = {**_pct(l_times[embeddings.MAX_TOKENS]), "tokens": embeddings.MAX_TOKENS}
        for n in caps[1:]:
            out[f"embed_one_long_mail_{n}_tokens"] = _pct(l_times[n])
        saved = model.second.threshold
        model.second.threshold = 1.01  # every message asks the second stage
        a_times = []
        for i in range(min(args.predictions, 500)):
            a_times.append(_timed(category.classify, "", texts[i % len(texts)], model))
        out["classify_always_second_stage"] = _pct(a_times)
        # The worst single prediction: a long mail whose TF-IDF confidence is low (the whole mail read by
        # TF-IDF, its start embedded).
        mails = [" ".join(texts[j : j + 12]) for j in range(0, max(1, len(texts) - 12), max(1, len(texts) // 50))]
        m_times = []
        for i in range(min(args.predictions, 500)):
            m_times.append(_timed(category.classify, "", mails[i % len(mails)], model))
        model.second.threshold = saved
        out["classify_long_mail_always_second_stage"] = {
            **_pct(m_times),
            "mean_chars": round(float(np.mean([len(m) for m in mails])), 1),
        }
    out["peak_rss_mb"] = {
        "interpreter": round(rss_start / 1024, 1),
        "worker_imports": round(rss_imports / 1024, 1),
        "with_model_and_embedder": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    # the machine's yardstick, as helpline bench gives it: latencies from sessions on machines of different speed
    # are compared through it
    from helpline.ingest.tools.bench import reference_loop_ms

    out["reference_loop_ms"] = reference_loop_ms()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
