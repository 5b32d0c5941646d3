"""Ingest throughput: parse, parse+upsert, and the full pipeline beside bare embedding.

Phases, each in a fresh process with a fresh SQLite database (so peak memory is per phase):

- ``parse``: records/s parsing all of ../shared/data/pubmed (XML and MEDLINE text), no database.
- ``load``: records/s parsing and upserting the same files through the ``ingest.load_file``
  steps (work items, chunks, counts), hand-off stages off.
- ``scale-parse`` / ``scale-load``: the same on a file of N records made by replicating the XML
  records under new PMIDs (N = 25,000 and 100,000 by default): peak memory must stay flat.
- ``pipeline``: a 2,000-record sample through parse, upsert, grade, index and embed, in
  records/s, beside the bare embedding throughput of the same model on the same texts in the
  same process (the ceiling), for each embedder setting asked for (runtime, batch size, max
  tokens), with each setting's bare speed-up over the first setting.
- ``embedders``: bare encoding speed of every ``--embedders`` setting on the same texts (the
  first ``--embed-texts`` of the sample), all in ONE process, in alternating rounds, with the
  median speed-up over the first setting (the ratio that the 3x target is about, free of the
  drift between processes).

    .venv/bin/python bench/ingest.py [--data ../shared/data] [--scales 25000,100000]
        [--sample 2000] [--embedders torch:32x256,onnx:32x256,onnx-int8:32x256] [--phases ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import HEAD, TAIL, peak_rss_mb, write_scale_file, xml_articles  # noqa: E402


def write_sample_file(data: Path, path: Path, count: int) -> int:
    """Write the first ``count`` distinct real XML records (those with an abstract first)."""
    chosen = []
    for _pmid, body in dict(xml_articles(data)).items():
        if b"<AbstractText" in body:
            chosen.append(body)
        if len(chosen) == count:
            break
    path.write_bytes(HEAD + b"\n".join(chosen) + b"\n" + TAIL)
    return len(chosen)


# --- phases (run in a child process) ----------------------------------------------------------


def _django(workdir: Path, stages: str) -> None:
    data_dir = workdir / "state"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        EVIDENCE_DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'bench.sqlite3'}",
        SECRET_KEY="bench-only-secret-key-0123456789-0123456789-0123456789",
        DJANGO_SETTINGS_MODULE="evidence_portal.settings",
        INGEST_HANDOFF_STAGES=stages,
        CELERY_BROKER_URL=f"sqla+sqlite:///{data_dir / 'broker.sqlite3'}",
        HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"),
    )
    os.environ.pop("REDIS_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def phase_parse(paths: list[Path]) -> dict[str, Any]:
    from ingest.pubmed import iter_input_paths, iter_pubmed_file
    from records.types import ParsedRecord

    started = time.perf_counter()
    records = 0
    for path in iter_input_paths(paths):
        records += sum(1 for item in iter_pubmed_file(path) if isinstance(item, ParsedRecord))
    seconds = time.perf_counter() - started
    return {"records": records, "seconds": seconds, "records_per_s": records / seconds, "peak_rss_mb": peak_rss_mb()}


def phase_load(paths: list[Path], workdir: Path) -> dict[str, Any]:
    _django(workdir, "")
    from ingest import runs, steps
    from ingest.pubmed import iter_input_paths

    files = list(iter_input_paths(paths))
    started = time.perf_counter()
    run = runs.run_start_files(paths=files, enqueue=False)
    run = steps.run_files_inline(run_id=run.pk)
    seconds = time.perf_counter() - started
    return {
        "records": run.fetched,
        "new": run.new,
        "seconds": seconds,
        "records_per_s": run.fetched / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "status": run.status,
    }


def parse_embedder(setting: str) -> tuple[str, int, int]:
    """Return (runtime, batch size, max tokens) of "RUNTIME:BATCHxTOKENS" (runtime onnx if left out)."""
    runtime, _, size = setting.rpartition(":")
    batch, tokens = (int(x) for x in size.split("x"))
    return runtime or "onnx", batch, tokens


def sample_texts(sample: Path) -> list[str]:
    """Return the texts the embedder reads for the records of ``sample`` (title and abstract)."""
    from ingest.pubmed import iter_pubmed_file
    from records.types import ParsedRecord
    from search.embeddings import document_text

    return [document_text(r.title, r.abstract) for r in iter_pubmed_file(sample) if isinstance(r, ParsedRecord)]


def phase_pipeline(sample: Path, workdir: Path, runtime: str, batch_size: int, max_tokens: int) -> dict[str, Any]:
    os.environ.update(
        EMBEDDING_RUNTIME=runtime, EMBEDDING_BATCH_SIZE=str(batch_size), EMBEDDING_MAX_TOKENS=str(max_tokens)
    )
    _django(workdir, "grade,index")
    from ingest import runs, steps
    from search.embeddings import get_embedder
    from search.indexing import embed_pending

    embedder = get_embedder()  # loading the model is not part of either figure
    texts = sample_texts(sample)
    embedder._encode(texts[:64])  # warm up
    started = time.perf_counter()
    embedder._encode(texts)  # bare: no cache, no database, no index
    bare = time.perf_counter() - started

    started = time.perf_counter()
    run = runs.run_start_files(paths=[sample], enqueue=False)
    run = steps.run_files_inline(run_id=run.pk)  # parse, upsert, grade, index (text)
    stored = time.perf_counter() - started
    embedded = 0
    while True:
        done = embed_pending(limit=500)
        embedded += done
        if done == 0:
            break
    total = time.perf_counter() - started
    return {
        "records": run.fetched,
        "embedded": embedded,
        "runtime": embedder.runtime,
        "batch_size": batch_size,
        "max_tokens": max_tokens,
        "bare_embed_per_s": len(texts) / bare,
        "pipeline_per_s": run.fetched / total,
        "store_grade_index_s": stored,
        "embed_and_index_vectors_s": total - stored,
        "ratio_to_bare": (run.fetched / total) / (len(texts) / bare),
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_embedders(sample: Path, workdir: Path, settings_list: list[str], count: int, rounds: int) -> dict[str, Any]:
    """Encode the same texts with every setting in this process; rounds alternate the settings."""
    import statistics

    _django(workdir, "")
    from django.conf import settings

    from search.embeddings import Embedder

    texts = sample_texts(sample)[:count]
    embedders = []
    for setting in settings_list:
        runtime, batch, tokens = parse_embedder(setting)
        embedder = Embedder(
            settings.EMBEDDING_MODEL,
            batch_size=batch,
            max_tokens=tokens,
            cache_dir=Path(settings.EMBEDDING_CACHE_DIR),
            runtime=runtime,
        )
        embedder._encode(texts[:64])  # warm up
        embedders.append(embedder)
    rates: list[list[float]] = [[] for _ in embedders]
    for _round in range(rounds):
        for index, embedder in enumerate(embedders):
            started = time.perf_counter()
            embedder._encode(texts)  # bare: no cache, no database, no index
            rates[index].append(len(texts) / (time.perf_counter() - started))
    return {
        "texts": len(texts),
        "rounds": rounds,
        "settings": [
            {
                "setting": setting,
                "runtime": embedder.runtime,
                "per_s": rates[index],
                "median_per_s": statistics.median(rates[index]),
                "median_speedup_vs_first": statistics.median(
                    [mine / first for mine, first in zip(rates[index], rates[0], strict=True)]
                ),
            }
            for index, (setting, embedder) in enumerate(zip(settings_list, embedders, strict=True))
        ],
    }


def child(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    paths = [Path(p) for p in args.paths]
    if args.phase == "parse":
        result = phase_parse(paths)
    elif args.phase == "load":
        result = phase_load(paths, workdir)
    elif args.phase == "embedders":
        result = phase_embedders(paths[0], workdir, args.embedder.split(","), args.embed_texts, args.rounds)
    else:
        runtime, batch, tokens = parse_embedder(args.embedder)
        result = phase_pipeline(paths[0], workdir, runtime, batch, tokens)
    print("RESULT " + json.dumps(result))


def run_child(phase: str, paths: list[Path], workdir: Path, embedder: str = "32x256", **options: int) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--child", phase, "--workdir", str(workdir), "--embedder", embedder]
    for name, value in options.items():  # e.g. embed_texts=320 -> --embed-texts 320
        command += [f"--{name.replace('_', '-')}", str(value)]
    command += [str(p) for p in paths]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    raise RuntimeError(f"phase {phase} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def _use_elasticsearch(url: str | None) -> Any:
    """Point child processes at Elasticsearch (a fresh index prefix); start the test node when no
    URL is given and return it (the caller stops it), else None."""
    import uuid

    node = None
    if not url:
        from tests.elastic.node import NodeProcess

        node = NodeProcess()
        url = node.start()
    os.environ.update(
        SEARCH_BACKEND="elasticsearch",
        ELASTICSEARCH_URL=url,
        ELASTICSEARCH_INDEX_PREFIX=f"bench-ingest-{uuid.uuid4().hex[:8]}",
    )
    return node


# --- the table --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--scales", default="25000,100000", help="sizes of the replicated scale files")
    parser.add_argument("--sample", type=int, default=2000, help="records in the full-pipeline sample")
    parser.add_argument(
        "--embedders",
        default="torch:32x256,onnx:32x256",
        help="embedder settings RUNTIME:BATCHxMAXTOKENS (runtime onnx, onnx-int8 or torch), comma-separated;"
        " the first is the baseline of the speed-up column",
    )
    parser.add_argument("--embed-texts", type=int, default=320, help="texts of the embedders phase")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the embedders phase")
    parser.add_argument(
        "--phases", default="parse,load,scale,pipeline", help="any of parse,load,scale,pipeline,embedders"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--backend",
        choices=["embedded", "elasticsearch"],
        default="embedded",
        help="search backend of the pipeline phase (elasticsearch: --es-url, ELASTICSEARCH_URL or the test node)",
    )
    parser.add_argument("--es-url", default=os.environ.get("ELASTICSEARCH_URL"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--embedder", default="32x256", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.phase = args.child
        child(args)
        return

    data = Path(args.data)
    phases = set(args.phases.split(","))
    rows: list[dict[str, Any]] = []
    es_node = None
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        corpus = [data / "pubmed"]
        if "parse" in phases:
            rows.append(
                {"case": "shared pubmed (xml+medline)", "phase": "parse", **run_child("parse", corpus, work / "p")}
            )
        if "load" in phases:
            rows.append(
                {
                    "case": "shared pubmed (xml+medline)",
                    "phase": "parse+upsert",
                    **run_child("load", corpus, work / "l"),
                }
            )
        if "scale" in phases:
            for size in (int(s) for s in args.scales.split(",") if s):
                scale = work / f"scale-{size}.xml.gz"
                write_scale_file(data, scale, size)
                rows.append(
                    {"case": f"replicated x{size}", "phase": "parse", **run_child("parse", [scale], work / f"sp{size}")}
                )
                rows.append(
                    {
                        "case": f"replicated x{size}",
                        "phase": "parse+upsert",
                        **run_child("load", [scale], work / f"sl{size}"),
                    }
                )
                scale.unlink()
        if "pipeline" in phases and args.backend == "elasticsearch":
            es_node = _use_elasticsearch(args.es_url)  # the pipeline children inherit the settings
        if "pipeline" in phases:
            sample = work / "sample.xml"
            write_sample_file(data, sample, args.sample)
            for setting in args.embedders.split(","):
                result = run_child("pipeline", [sample], work / f"pipe-{setting}", embedder=setting)
                rows.append(
                    {"case": f"sample {result['records']}, embedder {setting}", "phase": "full pipeline", **result}
                )
                if args.backend != "embedded":
                    rows[-1]["case"] += f", {args.backend}"
        if "embedders" in phases:
            sample = work / "sample.xml"
            if not sample.exists():
                write_sample_file(data, sample, args.sample)
            result = run_child(
                "embedders",
                [sample],
                work / "embedders",
                embedder=args.embedders,
                embed_texts=args.embed_texts,
                rounds=args.rounds,
            )
            for row in result["settings"]:
                rows.append(
                    {
                        "case": f"{result['texts']} texts, {row['setting']}",
                        "phase": "bare embedding",
                        **row,
                    }
                )
        if es_node is not None:
            es_node.cleanup()
    pipelines = [row for row in rows if row["phase"] == "full pipeline"]
    for row in pipelines:
        row["bare_speedup_vs_first"] = row["bare_embed_per_s"] / pipelines[0]["bare_embed_per_s"]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'case':<36} {'phase':<14} {'records':>8} {'rec/s':>9} {'peak MB':>8}  notes")
    for row in rows:
        if row["phase"] == "bare embedding":
            runs = " / ".join(f"{rate:.1f}" for rate in row["per_s"])
            print(
                f"{row['case']:<36} {row['phase']:<14} {'':>8} {row['median_per_s']:>9.1f} {'':>8}  "
                f"{row['median_speedup_vs_first']:.2f}x the first (median of {len(row['per_s'])} rounds in one "
                f"process: {runs}/s; ran {row['runtime']})"
            )
            continue
        if row["phase"] == "full pipeline":
            rate = row["pipeline_per_s"]
            notes = (
                f"bare embedding {row['bare_embed_per_s']:.1f}/s ({row['bare_speedup_vs_first']:.2f}x the first), "
                f"pipeline/bare {row['ratio_to_bare']:.2f}; "
                f"store+grade+index {row['store_grade_index_s']:.1f} s, embed {row['embed_and_index_vectors_s']:.1f} s"
            )
        else:
            rate = row["records_per_s"]
            notes = f"{row['seconds']:.1f} s"
        print(
            f"{row['case']:<36} {row['phase']:<14} {row['records']:>8} {rate:>9.1f} {row['peak_rss_mb']:>8.0f}  {notes}"
        )


if __name__ == "__main__":
    main()
