"""Witnesses for tests: ``sayso witness`` set up with its own commands, served by
werkzeug's real HTTP server on a free loopback port, with its own key and SQLite file."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import quote

import requests
from click.testing import CliRunner
from werkzeug.serving import make_server

from sayso.witness import create_witness_app
from sayso.witness.cli import witness as witness_cli


class RunningWitness:
    """One witness: set up, serving, and what it holds."""

    def __init__(self, folder: Path, name: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.database, key = folder / "witness.sqlite3", folder / "witness.key"
        self.runner = CliRunner()
        made = self.runner.invoke(
            witness_cli, ["init", "--db", str(self.database), "--key", str(key), "--name", name]
        )
        assert made.exit_code == 0, made.output
        self.vkey = made.output.strip()
        app = create_witness_app(
            {
                "WITNESS_DATABASE": str(self.database),
                "WITNESS_KEY_FILE": str(key),
                "WITNESS_NAME": name,
            }
        )
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    @property
    def config(self) -> str:
        """Its entry in SAYSO_WITNESSES."""
        return f"{self.url} {self.vkey}"

    def follow(self, origin: str, log_vkey: str) -> None:
        """Trust the log ``origin`` signed by ``log_vkey``."""
        added = self.runner.invoke(
            witness_cli, ["add-log", "--db", str(self.database), origin, log_vkey]
        )
        assert added.exit_code == 0, added.output

    def held(self, origin: str) -> str:
        """The last checkpoint it cosigned for ``origin``, as an auditor fetches it."""
        response = requests.get(f"{self.url}/checkpoints/{quote(origin, safe='')}", timeout=10)
        assert response.status_code == 200, response.text
        return response.text

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
