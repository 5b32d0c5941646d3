"""Load test with Locust: a realistic mix of pages and API calls at several client counts.

Builds (or reuses) a data dir of N records with an embedded index (text + vectors) exactly as
``bench/portal.py`` does, starts the portal the way ``make run`` does (gunicorn, one
single-threaded worker per core, and a Celery worker), warms it, then for each client count runs
Locust's users for a warm-up and a measured period. Each user waits a think time between its
requests, uniform in ``--think MIN,MAX`` seconds (default 1,5: a doctor reads a page before the
next click; ``--think 0`` gives closed-loop users that fire back to back, a saturation test in
which latency grows with the client count by construction). The mix, by weight: search page 45,
search page with filters 10, search API 20, record page 15, record API 10.

Reported per client count: p50/p95/p99 (ms) overall and per request kind, requests/s, error rate;
the p95 ratio of the largest client count to the smallest; and the resident memory (RSS) of every
web and worker process sampled every 5 s, with its slope after warm-up in % per 10 minutes.
Targets (issue 21): zero errors, p95 at 32 clients within 2x the 8-client figure, RSS slope under
1 % per 10 minutes.

    .venv/bin/python bench/load_test.py --size 100000 --clients 8,32 --duration 600 --warmup 60
    .venv/bin/python bench/load_test.py --reuse DIR ...     (a data dir kept with --keep)

The load generator runs in a child process (Locust patches the process with gevent).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MIX = {"search page": 45, "search page, filtered": 10, "search API": 20, "record page": 15, "record API": 10}
RECORD_BASE_PMID = 50_000_000  # the ids bench/portal.py's build gives its records


# --- the load generator (child process) ----------------------------------------------------------


def run_locust(
    url: str, clients: int, warmup: float, duration: float, size: int, queries: list[str], think: list[float]
) -> dict:  # type: ignore[type-arg]
    import gevent
    from locust import HttpUser, between, task
    from locust.env import Environment

    def pmid() -> str:
        return str(RECORD_BASE_PMID + random.randrange(size))

    class Clinician(HttpUser):
        wait_time = between(*think)
        host = url

        @task(MIX["search page"])
        def search_page(self) -> None:
            self.client.get("/search", params={"q": random.choice(queries)}, name="search page")

        @task(MIX["search page, filtered"])
        def search_filtered(self) -> None:
            params = {"q": random.choice(queries), "level": ["rct", "systematic_review"], "year_from": "2005"}
            self.client.get("/search", params=params, name="search page, filtered")

        @task(MIX["search API"])
        def search_api(self) -> None:
            self.client.get("/api/v1/search", params={"q": random.choice(queries)}, name="search API")

        @task(MIX["record page"])
        def record_page(self) -> None:
            self.client.get(f"/records/{pmid()}", name="record page")

        @task(MIX["record API"])
        def record_api(self) -> None:
            self.client.get(f"/api/v1/records/{pmid()}", name="record API")

    env = Environment(user_classes=[Clinician], host=url)
    runner = env.create_local_runner()
    runner.start(clients, spawn_rate=clients)
    gevent.sleep(warmup)
    env.stats.reset_all()
    started = time.monotonic()
    gevent.sleep(duration)
    elapsed = time.monotonic() - started
    runner.quit()

    def row(entry: Any) -> dict[str, float]:
        return {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "rps": entry.num_requests / elapsed if elapsed else 0.0,
            "p50": entry.get_response_time_percentile(0.50),
            "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99),
        }

    errors = [f"{error.method} {error.name}: {error.error} x{error.occurrences}" for error in env.stats.errors.values()]
    return {
        "total": row(env.stats.total),
        "kinds": {name: row(entry) for (name, _method), entry in sorted(env.stats.entries.items())},
        "errors": errors[:10],
    }


# --- the orchestrator -----------------------------------------------------------------------------


class MemorySampler:
    """Sample the RSS of every process of the given process groups every ``interval`` seconds."""

    def __init__(self, roots: dict[str, int], interval: float = 5.0) -> None:
        self.roots = roots
        self.interval = interval
        self.samples: list[tuple[float, str, int, float]] = []  # (t, role, pid, rss MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.monotonic()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            now = time.monotonic() - self.started
            for role, pid in self.roots.items():
                try:
                    root = psutil.Process(pid)
                    for process in [root, *root.children(recursive=True)]:
                        self.samples.append((now, role, process.pid, process.memory_info().rss / 2**20))
                except psutil.NoSuchProcess:
                    continue
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def report(self, since: float, until: float) -> list[dict[str, Any]]:
        """Per process: RSS at the start and end of the window and its slope in % per 10 min."""
        import numpy as np

        rows = []
        for role, pid in sorted({(role, pid) for _, role, pid, _ in self.samples}):
            points = [(t, rss) for t, r, p, rss in self.samples if p == pid and since <= t <= until]
            if len(points) < 3:
                continue
            times, rss = np.array([t for t, _ in points]), np.array([m for _, m in points])
            slope = float(np.polyfit(times, rss, 1)[0])  # MiB per second
            rows.append(
                {
                    "role": role,
                    "pid": pid,
                    "rss_start_mib": float(rss[0]),
                    "rss_end_mib": float(rss[-1]),
                    "slope_pct_per_10min": slope * 600 / float(rss.mean()) * 100,
                }
            )
        return rows


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    from bench.common import REPO

    command = [str(REPO / ".venv" / "bin" / "celery"), "-A", "evidence_portal", "worker", "--concurrency", "1"]
    command += ["--loglevel", "WARNING"]
    with log.open("wb") as handle:
        return subprocess.Popen(
            command,
            cwd=REPO,
            env={**env, "REMAP_SIGTERM": "SIGQUIT"},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--clients", default="8,32", help="comma-separated client counts")
    parser.add_argument("--duration", type=float, default=600.0, help="measured seconds per client count")
    parser.add_argument("--warmup", type=float, default=60.0, help="unmeasured seconds before each measurement")
    parser.add_argument("--think", default="1,5", help="think time MIN,MAX seconds between a user's requests; 0 = none")
    parser.add_argument("--base", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--locust-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    low, _, high = args.think.partition(",")
    think = [float(low), float(high or low)]  # "0" is no think time at all

    if args.locust_child:
        spec = json.loads(Path(args.locust_child).read_text())
        result = run_locust(**spec)
        Path(args.locust_child).with_suffix(".out.json").write_text(json.dumps(result))
        return

    from bench.common import REPO, SHARED_DATA, load_scifact
    from bench.portal import build, free_port, start_server, wait_for

    data_dir = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="load-bench-"))
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
        PORTAL_API_RATE="1000000/m",  # the bench measures the portal, not the per-client limit
        HF_HUB_OFFLINE=env.get("HF_HUB_OFFLINE", "1"),
        DJANGO_SETTINGS_MODULE="evidence_portal.settings",
    )
    os.environ.update(env)
    import django

    django.setup()
    base, queries = load_scifact(SHARED_DATA / "scifact", args.base)
    result: dict[str, Any] = {"size": args.size, "duration_s": args.duration, "warmup_s": args.warmup, "think_s": think}
    if args.reuse:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    else:
        result["build"] = build(args.size, base, args.noise)
    result["load_average_before"] = os.getloadavg()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(env, port, data_dir / "server.log", workers=args.workers, threads=1)
    worker = start_worker(env, data_dir / "worker.log")
    sampler = MemorySampler({"web": server.pid, "worker": worker.pid})
    try:
        wait_for(url + "/healthz", 120)
        for query in queries[:16]:
            wait_for(f"{url}/search?{urllib.parse.urlencode({'q': query})}", 300)
        sampler.start()
        result["runs"] = {}
        for clients in [int(part) for part in args.clients.split(",")]:
            spec = data_dir / f"locust-{clients}.json"
            spec.write_text(
                json.dumps(
                    {
                        "url": url,
                        "clients": clients,
                        "warmup": args.warmup,
                        "duration": args.duration,
                        "size": args.size,
                        "queries": queries[16:],
                        "think": think,
                    }
                )
            )
            began = time.monotonic() - sampler.started
            subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--locust-child", str(spec)], cwd=REPO, check=True
            )
            ended = time.monotonic() - sampler.started
            run = json.loads(spec.with_suffix(".out.json").read_text())
            run["memory"] = sampler.report(began + args.warmup, ended)
            run["load_average"] = os.getloadavg()
            result["runs"][str(clients)] = run
    finally:
        sampler.stop()
        for process in (server, worker):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        if args.keep or args.reuse:
            result["data_dir"] = str(data_dir)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    counts = sorted(result["runs"], key=int)
    low, high = result["runs"][counts[0]]["total"], result["runs"][counts[-1]]["total"]
    result["p95_ratio"] = high["p95"] / low["p95"] if low["p95"] else float("nan")
    if args.json:
        print(json.dumps(result, indent=2))
        return
    users = f"think time {think[0]:g}-{think[1]:g} s" if think[1] else "closed-loop (no think time)"
    print(f"Load test: {args.size} records, gunicorn {args.workers}x1 + a Celery worker, Locust users, {users}")
    print(f"warm-up {args.warmup:.0f} s, then {args.duration:.0f} s measured per client count; mix {MIX}")
    for clients in counts:
        run = result["runs"][clients]
        total = run["total"]
        error_rate = total["failures"] / max(total["requests"], 1)
        print(f"\n{clients} clients: {total['requests']} requests, {total['rps']:.1f} req/s, errors {error_rate:.2%}")
        print(f"{'kind':<24}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>8}{'errors':>8}")
        for name, row in [*run["kinds"].items(), ("all", total)]:
            print(
                f"{name:<24}{row['p50']:>8.0f}{row['p95']:>8.0f}{row['p99']:>8.0f}{row['rps']:>8.1f}{row['failures']:>8}"
            )
        for line in run["errors"]:
            print(f"  error: {line}")
        print(f"{'process':<16}{'RSS start':>10}{'RSS end':>10}{'slope %/10min':>15}")
        for mem in run["memory"]:
            name = f"{mem['role']} {mem['pid']}"
            print(
                f"{name:<16}{mem['rss_start_mib']:>10.0f}{mem['rss_end_mib']:>10.0f}{mem['slope_pct_per_10min']:>15.2f}"
            )
        print(f"load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in run['load_average'])}")
    print(f"\np95 at {counts[-1]} clients / p95 at {counts[0]} clients: {result['p95_ratio']:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
