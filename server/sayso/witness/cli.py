"""``sayso witness``: set up and run a witness. None of these commands reads Sayso's
configuration: a witness's state is its key file and its database file, nothing else."""

from __future__ import annotations

import click
from werkzeug.serving import make_server

from sayso.ledger.notes import ALG_ED25519, Cosigner, NoteError, NoteVerifier
from sayso.witness import create_witness_app
from sayso.witness.keys import WitnessKeyError, load_or_create_key
from sayso.witness.store import WitnessStore, WitnessStoreError

_DATABASE = click.option(
    "--db",
    "database",
    required=True,
    type=click.Path(dir_okay=False),
    help="The witness's SQLite file.",
)
_KEY = click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The witness's key file (a raw 32-byte Ed25519 seed).",
)
_NAME = click.option(
    "--name", required=True, help="The witness's key name, e.g. witness.example.org/w1."
)

witness = click.Group(
    "witness", help="A witness that cosigns a log's checkpoints (c2sp.org/tlog-witness)."
)


def register_witness_cli(group: click.Group) -> None:
    """Attach the ``witness`` commands to ``group`` (the ``sayso`` command)."""
    group.add_command(witness)


@witness.command("init")
@_DATABASE
@_KEY
@_NAME
def init(database: str, key_file: str, name: str) -> None:
    """Create the witness's key (mode 0600) and database if missing; print its vkey."""
    try:
        cosigner = Cosigner(name, load_or_create_key(key_file))
        WitnessStore(database).initialize(cosigner.verifier_key())
    except (NoteError, WitnessKeyError, WitnessStoreError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(cosigner.verifier_key())


@witness.command("add-log")
@_DATABASE
@click.argument("origin")
@click.argument("vkey")
def add_log(database: str, origin: str, vkey: str) -> None:
    """Follow the log ORIGIN, trusting its Ed25519 note key VKEY (may be given again to add
    another key)."""
    try:
        verifier = NoteVerifier.from_vkey(vkey)
    except NoteError as error:
        raise click.BadParameter(str(error), param_hint="VKEY") from None
    if verifier.signature_type != ALG_ED25519:
        raise click.BadParameter("a log signs its checkpoints with an Ed25519 key (type 0x01)")
    if not origin or "\n" in origin or origin != origin.strip():
        raise click.BadParameter("an origin is one line, without surrounding spaces")
    try:
        WitnessStore(database).add_log(origin, verifier.vkey())
    except WitnessStoreError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"following {origin}, signed by {verifier.vkey()}")


@witness.command("serve")
@_DATABASE
@_KEY
@_NAME
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=7380, show_default=True, help="The port (0: any free one).")
def serve(database: str, key_file: str, name: str, host: str, port: int) -> None:
    """Answer add-checkpoint requests until interrupted."""
    config = {"WITNESS_DATABASE": database, "WITNESS_KEY_FILE": key_file, "WITNESS_NAME": name}
    try:
        app = create_witness_app(config)
    except (NoteError, WitnessKeyError, WitnessStoreError) as error:
        raise click.ClickException(str(error)) from None
    server = make_server(host, port, app, threaded=True)
    vkey = app.extensions["sayso_witness"].cosigner.verifier_key()
    click.echo(f"witness {vkey} listening on http://{host}:{server.server_port}", color=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
