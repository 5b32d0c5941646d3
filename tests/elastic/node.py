"""Start and stop the real Elasticsearch test node (scripts/es_node.sh) from tests."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = float(os.environ.get("ES_NODE_START_TIMEOUT", "240"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NodeProcess:
    """One node process: ``start()`` blocks until it prints its URL (it then answers HTTP)."""

    def __init__(
        self,
        *,
        port: int = 0,
        name: str = "evidence-test-node",
        heap: str = "1g",
        settings: dict[str, str] | None = None,
    ) -> None:
        # Under the system temp folder, not pytest's private one: when the tests run as root the
        # node runs as an unprivileged user (Elasticsearch refuses root) who must reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="es-node-"))
        self.folder.chmod(0o755)
        self.data_dir = self.folder / "data"
        self.port = port
        self.name = name
        self.heap = heap
        self.settings = dict(settings or {})
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.folder / "node.log"

    def start(self) -> str:
        """Start the node and return its URL. Raises RuntimeError (with the log's tail) when it
        exits or does not answer within START_TIMEOUT seconds."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        command = ["bash", str(REPO_ROOT / "scripts" / "es_node.sh"), "--data", str(self.data_dir), "--name", self.name]
        if self.port:
            command += ["--port", str(self.port)]
        for key, value in self.settings.items():
            command += ["--setting", f"{key}={value}"]
        env = {**os.environ, "ES_NODE_HEAP": self.heap}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env, start_new_session=True)
        log.close()
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 1.0)
            if ready:
                line = self.process.stdout.readline()
                if line.startswith(b"ELASTICSEARCH_URL="):
                    self.url = line.decode().strip().split("=", 1)[1]
                    self.port = int(self.url.rsplit(":", 1)[1])
                    return self.url
                if not line and self.process.poll() is not None:
                    break
            elif self.process.poll() is not None:
                break
        self.kill()
        raise RuntimeError(f"the Elasticsearch node did not start: {self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout: float = 60) -> None:
        """Close the node cleanly (SIGTERM), killing it when it does not exit in time."""
        self._signal(signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def cleanup(self) -> None:
        """Stop the node and delete its data and log."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def kill(self) -> None:
        """Stop the node abruptly (SIGKILL), as a crash or an OOM kill would."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(30)

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
