"""Re-embed every record with another model into a new generation; the old one stays live until
the new one is complete.

python manage.py reembed --model NAME [--runtime onnx|onnx-int8|torch] [--queue [--wait]]
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from operations.commanding import add_queue_arguments, run_job_command
from search.embeddings import RUNTIMES


class Command(BaseCommand):
    help = "Build a new generation with every vector from --model, verify it, switch to it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", required=True, help="sentence-transformers model name or path")
        parser.add_argument("--runtime", choices=RUNTIMES, default=None, help="default: EMBEDDING_RUNTIME")
        parser.add_argument("--batch-size", type=int, default=500, help="records written per batch")
        add_queue_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        params = {"model": options["model"], "runtime": options["runtime"], "batch_size": options["batch_size"]}
        run_job_command(self, kind="reembed", params=params, options=options)
