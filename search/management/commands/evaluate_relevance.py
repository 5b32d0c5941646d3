"""Score search relevance on a BEIR collection: nDCG@10, Recall@100 and MRR@10 per mode."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.backends import get_backend
from search.backends.base import SearchBackend, SearchBackendError
from search.evaluation import MODES, EvaluationError, evaluate, load_beir, with_overrides
from search.services import RetrievalSettings


def _elastic_factory() -> tuple[SearchBackend, Callable[[], None]]:
    live = get_backend("elasticsearch")
    generation = live.create_generation()
    return live.generation_backend(generation), lambda: live.drop_generation(generation)


class Command(BaseCommand):
    help = "Load a BEIR collection into a temporary index and print nDCG@10, Recall@100, MRR@10 per mode."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--beir", required=True, type=Path, help="folder with corpus.jsonl[.gz], queries.jsonl, qrels/"
        )
        parser.add_argument("--split", default="train")
        parser.add_argument("--mode", choices=[*MODES, "all"], default="all")
        parser.add_argument("--backend", choices=["embedded", "elasticsearch"], default="embedded")
        parser.add_argument("--json", action="store_true", help="print one JSON object keyed by mode")
        parser.add_argument("--no-peers", action="store_true", help="skip the bm25s and numpy peers")
        parser.add_argument("--fusion", choices=["rrf", "linear"], help="override SEARCH_FUSION")
        parser.add_argument("--lexical-weight", type=float, help="override SEARCH_LEXICAL_WEIGHT")
        parser.add_argument("--rrf-k", type=int, help="override SEARCH_RRF_K")
        parser.add_argument("--title-weight", type=float, help="override the title field boost (embedded)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            collection = load_beir(options["beir"], split=options["split"])
        except EvaluationError as exc:
            raise CommandError(str(exc)) from exc
        config = with_overrides(
            RetrievalSettings.from_settings(),
            fusion=options["fusion"],
            lexical_weight=options["lexical_weight"],
            rrf_k=options["rrf_k"],
        )
        embedded: dict[str, Any] = settings.SEARCH_BACKENDS["embedded"]
        backend_options: dict[str, Any] = dict(embedded.get("OPTIONS", {}))
        if options["title_weight"] is not None:
            backend_options["field_weights"] = {
                **dict(backend_options.get("field_weights") or {}),
                "title": options["title_weight"],
            }
        modes = MODES if options["mode"] == "all" else (options["mode"],)
        quiet = options["json"]
        try:
            result = evaluate(
                collection,
                modes=modes,
                config=config,
                peers=not options["no_peers"],
                backend_factory=_elastic_factory if options["backend"] == "elasticsearch" else None,
                backend_options=backend_options,
                progress=(lambda _m: None) if quiet else (lambda m: self.stderr.write(m)),
            )
        except SearchBackendError as exc:
            raise CommandError(f"search backend failed: {exc}") from exc
        if quiet:
            self.stdout.write(json.dumps({mode: s.as_dict() for mode, s in result.scores.items()}))
            return
        self.stdout.write(f"{'mode':<24}{'nDCG@10':>9}{'R@100':>9}{'MRR@10':>9}{'queries':>9}{'p50 ms':>9}")
        for mode, s in result.scores.items():
            self.stdout.write(
                f"{mode:<24}{s.ndcg_at_10:>9.4f}{s.recall_at_100:>9.4f}{s.mrr_at_10:>9.4f}{s.queries:>9}{s.median_ms:>9.1f}"
            )
        self.stdout.write(f"config: {config}  notes: {result.notes}")
