"""Portal latency at N records: the search page and the search API under concurrent clients.

Builds a throwaway data dir with N EvidenceRecord rows and an embedded index (text + vectors):
SciFact abstracts (../shared/data/scifact) replicated under new ids with perturbed vectors and
cycling evidence levels, years and publication types. Starts the real server the way `make run`
does (gunicorn, one single-threaded worker per core), warms it (model loaded, index readers
open), then runs a steady bounded load: C client threads on loopback, each sending SciFact claims
one after another for D seconds (and at most R requests). Reported per target: p50/p95/p99 ms,
requests/s, errors, and the CPU time per request of the server and of the load generator; the
baseline is /healthz under the same load in the same run (the framework floor).
Also reports the server-side time in-process (Django test client, one client, no network).

    .venv/bin/python bench/portal.py --size 100000 --clients 8 --duration 30 [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import REPO, load_scifact, percentiles

LEVELS = ("guideline", "systematic_review", "rct", "cohort", "case_control", "narrative_review", "unknown")
TYPES = ("Journal Article", "Randomized Controlled Trial", "Review", "Systematic Review", "Meta-Analysis")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build(size: int, base: list[tuple[str, str]], noise: float) -> dict[str, float]:
    """Create ``size`` records and index them with vectors; return timings in seconds."""
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from records.models import EvidenceRecord
    from search.backends import get_backend
    from search.documents import IndexDocument
    from search.embeddings import document_text, get_embedder
    from search.models import IndexEntry

    timings: dict[str, float] = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    timings["migrate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    embedder = get_embedder()
    base_vectors = np.asarray(embedder.embed_texts([document_text(title, text) for title, text in base]), np.float32)
    timings["embed_base_s"] = time.perf_counter() - started

    rng = np.random.default_rng(size)
    backend = get_backend()
    now = timezone.now()
    started = time.perf_counter()
    batch = 5000
    for start in range(0, size, batch):
        count = min(batch, size - start)
        sources = np.arange(start, start + count) % len(base)
        vectors = base_vectors[sources] + rng.normal(scale=noise, size=(count, base_vectors.shape[1])).astype(
            np.float32
        )
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        records = []
        documents = []
        for offset, source in enumerate(sources):
            number = start + offset
            title, text = base[source]
            level = LEVELS[number % len(LEVELS)]
            year = 1990 + number % 36
            pmid = str(50_000_000 + number)
            pub_type = TYPES[number % len(TYPES)]
            records.append(
                EvidenceRecord(
                    source="pubmed",
                    source_id=pmid,
                    uid=f"pubmed:{pmid}",
                    pmid=pmid,
                    title=title or f"Untitled {number}",
                    abstract=text,
                    journal="Bench Journal",
                    publication_year=year,
                    publication_date_raw=str(year),
                    authors=["Bench A", "Bench B"],
                    language="eng",
                    languages=["eng"],
                    publication_types=[pub_type],
                    evidence_level=level,
                    pmcid=f"PMC{number}" if number % 3 == 0 else "",
                    content_hash=f"{number:064x}",
                    first_harvested_at=now,
                    last_harvested_at=now,
                )
            )
            documents.append(
                IndexDocument(
                    doc_id=f"pubmed:{pmid}",
                    title=title,
                    abstract=text,
                    evidence_level=level,
                    publication_year=year,
                    publication_types=(pub_type,),
                    journal="Bench Journal",
                    language="eng",
                    free_full_text=number % 3 == 0,
                    content_hash=f"{number:064x}",
                    vector=tuple(vectors[offset].tolist()),
                    vector_model=embedder.model_name,
                )
            )
        with transaction.atomic():
            created = EvidenceRecord.objects.bulk_create(records)
            IndexEntry.objects.bulk_create(
                IndexEntry(
                    record=record,
                    doc_id=record.uid,
                    content_hash=record.content_hash,
                    vector_ready=True,
                    vector_model=embedder.model_name,
                )
                for record in created
            )
        backend.index_documents(documents)
    timings["build_index_s"] = time.perf_counter() - started
    return timings


def in_process(queries: list[str], count: int) -> dict[str, dict[str, float]]:
    """Server-side time per request without the network: Django's test client, one client."""
    from django.test import Client

    client = Client()
    out: dict[str, dict[str, float]] = {}
    # Disjoint query sets: a query embedding cached by one target must not speed up the other.
    for index, (name, path) in enumerate((("search page", "/search"), ("search API", "/api/v1/search"))):
        client.get(path, {"q": queries[0]})
        samples = []
        for query in queries[1 + index * count : 1 + (index + 1) * count]:
            started = time.perf_counter()
            response = client.get(path, {"q": query})
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        out[name] = percentiles(samples)
    return out


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) used so far by process ``pid`` and its children."""
    import psutil

    parent = psutil.Process(pid)
    total = 0.0
    for process in [parent, *parent.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def load(
    url_for: Any, queries: list[str], *, clients: int, duration: float, cap: int, server_pid: int
) -> dict[str, Any]:
    """Run ``clients`` threads for ``duration`` seconds (at most ``cap`` requests each).

    Also returns the CPU time per request of the server (all its workers) and of this client."""
    samples: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker(offset: int) -> None:
        sent = 0
        while time.monotonic() < deadline and sent < cap:
            url = url_for(queries[(offset * 7919 + sent) % len(queries)])
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    response.read()
                    ok = response.status == 200
            except (urllib.error.URLError, OSError) as error:
                ok = False
                with lock:
                    errors.append(str(error))
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if ok:
                    samples.append(elapsed)
            sent += 1

    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    server_cpu, client_cpu = cpu_seconds(server_pid) - server_cpu, time.process_time() - client_cpu
    requests = len(samples) + len(errors)
    return {
        **percentiles(samples),
        "server_cpu_ms": server_cpu * 1000 / max(requests, 1),
        "client_cpu_ms": client_cpu * 1000 / max(requests, 1),
        "requests": requests,
        "errors": len(errors),
        "rps": len(samples) / wall if wall else 0.0,
        "error_examples": errors[:3],
    }


def start_server(env: dict[str, str], port: int, log: Path, *, workers: int, threads: int) -> subprocess.Popen[bytes]:
    command = [
        str(REPO / ".venv" / "bin" / "gunicorn"),
        "evidence_portal.wsgi",
        "--config",
        "python:evidence_portal.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "120",
    ]
    with log.open("wb") as handle:
        return subprocess.Popen(
            command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise SystemExit(f"server did not answer {url} within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per target")
    parser.add_argument("--max-requests", type=int, default=2000, help="cap per client per target")
    parser.add_argument("--base", type=int, default=1000, help="distinct SciFact abstracts embedded")
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (make run: cores)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (make run: 1)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (printed)")
    parser.add_argument("--reuse", help="data dir kept by --keep (same size): measure without rebuilding")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    data_dir = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="portal-bench-"))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        EVIDENCE_DATA_DIR=str(data_dir),
        SECRET_KEY="bench-only-secret-key-0123456789-0123456789-0123456789",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PORTAL_API_RATE="1000000/m",  # the bench measures latency, not the rate limit
        HF_HUB_OFFLINE=env.get("HF_HUB_OFFLINE", "1"),
        DJANGO_SETTINGS_MODULE="evidence_portal.settings",
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS.append("testserver")

    base, queries = load_scifact(args.data, args.base)
    result: dict[str, Any] = {"size": args.size, "clients": args.clients, "duration_s": args.duration}
    if args.reuse:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        result["build"] = {"reused": 0.0}
    else:
        result["build"] = build(args.size, base, args.noise)
    result["in_process_ms"] = in_process(queries[16:], 50)

    port = free_port()
    server = start_server(env, port, data_dir / "server.log", workers=args.workers, threads=args.threads)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for(base_url + "/healthz", 120)
        # Warm both workers: model loaded and index readers open in each.
        for query in queries[:16]:
            wait_for(f"{base_url}/search?q={urllib.parse.quote(query)}", 300)
            wait_for(f"{base_url}/api/v1/search?q={urllib.parse.quote(query)}", 300)
        targets = {
            "healthz (baseline)": lambda _q: base_url + "/healthz",
            "search page": lambda q: f"{base_url}/search?{urllib.parse.urlencode({'q': q})}",
            "search page, filtered": lambda q: (
                f"{base_url}/search?"
                + urllib.parse.urlencode({"q": q, "level": ["rct", "systematic_review"], "year_from": 2005}, doseq=True)
            ),
            "search API": lambda q: f"{base_url}/api/v1/search?{urllib.parse.urlencode({'q': q})}",
        }
        # Each target gets its own slice of the claims, after the ones used for warming and in process.
        rest = queries[16 + 100 :]
        share = max(len(rest) // len(targets), 1)
        result["load"] = {
            name: load(
                url_for,
                rest[index * share : (index + 1) * share] or rest,
                clients=args.clients,
                duration=args.duration,
                cap=args.max_requests,
                server_pid=server.pid,
            )
            for index, (name, url_for) in enumerate(targets.items())
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if args.keep or args.reuse:
            result["data_dir"] = str(data_dir)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    baseline = result["load"]["healthz (baseline)"]["p50"]
    for row in result["load"].values():
        row["p50_vs_baseline"] = row["p50"] / baseline if baseline else float("nan")
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"Portal latency: {args.size} records, {args.clients} concurrent clients, {args.duration:.0f} s per target")
    print("build: " + ", ".join(f"{name} {value:.1f}" for name, value in result["build"].items()))
    print("\nServer-side, in process (one client, no network), ms")
    print(f"{'target':<24}{'p50':>8}{'p95':>8}{'p99':>8}")
    for name, row in result["in_process_ms"].items():
        print(f"{name:<24}{row['p50']:>8.1f}{row['p95']:>8.1f}{row['p99']:>8.1f}")
    print(f"\nEnd to end over loopback, gunicorn {args.workers}x{args.threads}, {args.clients} clients, ms")
    print(
        f"{'target':<24}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>8}{'reqs':>7}{'errors':>7}{'p50/base':>10}"
        f"{'srv cpu':>9}{'cli cpu':>9}"
    )
    for name, row in result["load"].items():
        print(
            f"{name:<24}{row['p50']:>8.1f}{row['p95']:>8.1f}{row['p99']:>8.1f}{row['rps']:>8.1f}"
            f"{row['requests']:>7}{row['errors']:>7}{row['p50_vs_baseline']:>10.1f}"
            f"{row['server_cpu_ms']:>9.1f}{row['client_cpu_ms']:>9.1f}"
        )
    print("(srv cpu / cli cpu: CPU ms per request used by all server processes / by this load generator)")


if __name__ == "__main__":
    main()
