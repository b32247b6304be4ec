"""`archiver checkpoint` and `archiver cosign`: the chain head as a C2SP signed note, and a
witness's cosignature over it."""

from __future__ import annotations

from pathlib import Path

import click

from archiver.cli.options import (
    archive_option,
    emit_json,
    existing_archive,
    handle_errors,
    json_option,
    operator_option,
)


@click.command("checkpoint")
@click.option("--origin", default=None,
              help="The checkpoint's origin and key name [default: the archive folder's name].")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The archive's Ed25519 key [default: as for `archiver sign`].")
@archive_option
@operator_option
@json_option
@handle_errors
def checkpoint_command(origin: str | None, key_path: Path | None, archive_dir: Path | None,
                       operator: str | None, as_json: bool) -> None:
    """Write the chain head as a checkpoint others can cosign (C2SP tlog-checkpoint style).

    The note holds the origin, the size (seq + 1) and the head hash (base64), signed with the
    archive's Ed25519 key (C2SP signed-note). It goes to checkpoints/<size>-<hash>.note and a
    manifest event records its sha256, so audit notices a deleted or edited checkpoint.
    Hand the file to witnesses: `archiver cosign FILE --key THEIR.key --name THEIR-NAME`.

    \b
    Example:
      archiver checkpoint
      archiver cosign archive/checkpoints/12-0a1b2c3d4e5f.note --key witness.key --name w1
      archiver audit --witness "$(cat w1.vkey)"
    """
    from archiver.pipeline.commit import record_event
    from archiver.store import checkpoints, signing

    archive = existing_archive(archive_dir, writes="checkpoint")
    path, cp = checkpoints.make(archive, signing.load_private(key_path), origin)
    record_event(archive, "digital signature generation", "success",
                 f"checkpoint of seq {cp.seq} ({cp.origin}, size {cp.size})", operator,
                 checkpoint=checkpoints.record(cp, path, archive))
    if as_json:
        emit_json({"checkpoint": str(path), "origin": cp.origin, "size": cp.size,
                   "seq": cp.seq, "hash": cp.head})
    else:
        click.echo(f"checkpoint {path}: {cp.origin} size {cp.size} ({cp.head})")


@click.command("cosign")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The witness's Ed25519 private key (PEM; `archiver keygen "
                                  "--key FILE` makes one).")
@click.option("--name", default=None,
              help="The witness's key name [default: witness-<first 8 hex of its key id>].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the cosigned note [default: beside CHECKPOINT, "
                   "<size>-<hash>.<name>.cosig].")
@json_option
@handle_errors
def cosign_command(checkpoint: Path, key_path: Path, name: str | None, out: Path | None,
                   as_json: bool) -> None:
    """Cosign a checkpoint as a witness (C2SP tlog-cosignature/v1, Ed25519).

    Adds a line `— NAME base64(key ID || time || signature)` to a copy of the note and
    prints the witness's verifier key (vkey), which the archive's auditors pass to
    `archiver audit --witness VKEY`. A witness should cosign only a checkpoint consistent
    with the last one it cosigned for that origin (same head at that size).

    \b
    Example:
      archiver cosign checkpoints/12-0a1b2c3d4e5f.note --key witness.key --name example.org/w1
    """
    from archiver.store import checkpoints, signing

    key = signing.load_private(key_path)
    name = name or "witness-" + signing.key_id(key.public_key()).split(":")[1][:8]
    path, vkey = checkpoints.cosign(checkpoint, key, name, out)
    if as_json:
        emit_json({"cosigned": str(path), "name": name, "vkey": vkey})
    else:
        click.echo(f"cosigned {path}\nvkey {vkey}")
