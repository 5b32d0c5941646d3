"""What the operations page shows, for a terminal (or, with --json, for monitoring).

python manage.py status [--json]
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from operations import selectors, services


class Command(BaseCommand):
    help = "Print the index, models, harvests, jobs, workers, broker and disk state (--json for monitoring)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        services.jobs_watch()
        state = selectors.ops_state()
        if options["json"]:
            self.stdout.write(json.dumps(state, indent=2, sort_keys=True, default=str))
            return
        index, emb = state["index"], state["embedding"]
        out = self.stdout.write
        out(f"search backend: {index['backend']} ({'up' if index['ok'] else 'down: ' + index['detail']})")
        out(f"live generation: {index['live_generation'] or 'none'} built {index['built_at'] or '-'}")
        out(f"documents: {index['documents']} ({index['vectors']} with vectors)")
        rec = state["records"]
        out(f"records in the database: {rec['database']}  difference: {rec['difference']}")
        out(f"embedding model: live {emb['live_model'] or '-'} dimension {emb['dimension'] or '-'}")
        out(f"configured model: {emb['configured_model']} ({emb['runtime']})")
        out(f"design classifier: {state['classifier_version'] or 'not trained'}")
        for h in state["harvests"]:
            if h["run"]:
                out(f"last harvest {h['source']}: run {h['run']} {h['status']} {h['at']} {h['counts']}")
            else:
                out(f"last harvest {h['source']}: never")
        for name in ("running", "queued"):
            for job in state["jobs"][name]:
                out(f"{name}: job {job['id']} {job['kind']} {job['phase']} {job['done']}/{job['total']}")
        broker = state["broker"]
        out(f"broker: {'up' if broker['ok'] else 'down: ' + broker.get('detail', '')}")
        for worker in state["workers"]:
            out(f"worker {worker['hostname']}: {'up' if worker['up'] else 'down'} (last seen {worker['last_seen']})")
        if not state["workers"]:
            out("workers: none has reported")
        out(f"data folder {state['data_dir']['path']}: {state['data_dir']['bytes']} bytes")
