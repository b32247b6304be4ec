"""`archiver keygen` and `archiver sign`: the signing key and signed manifest heads.
"""

from __future__ import annotations

from pathlib import Path

import click

from archiver.cli.options import (
    F,
    UsageFailure,
    archive_option,
    emit_json,
    handle_errors,
    json_option,
    open_archive,
    writable_archive,
)

KEY_HELP = ("Private key file [default: $ARCHIVER_KEY, else "
            "$XDG_CONFIG_HOME/archiver/ed25519.key or ~/.config/archiver/ed25519.key].")


def key_option(func: F) -> F:
    return click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help=KEY_HELP)(func)


@click.command()
@key_option
@archive_option
@click.option("--force", is_flag=True, help="Replace an existing key (old signatures still "
                                            "verify against the public key stored with them).")
@click.option("--wacz", "for_wacz", is_flag=True,
              help="Make the ECDSA P-384 key that signs WACZ packages (`export wacz --sign`) "
                   "instead, at --key or $ARCHIVER_WACZ_KEY, else "
                   "~/.config/archiver/wacz-p384.key.")
@json_option
@handle_errors
def keygen(key_path: Path | None, archive_dir: Path | None, force: bool, for_wacz: bool,
           as_json: bool) -> None:
    """Create an Ed25519 key pair for signing manifest heads (--wacz: a P-384 key pair for
    signing WACZ packages).

    The private key (PEM, mode 0600) goes to --key or the default location, the public key
    beside it with a .pub suffix. It is refused inside the archive: a key that travels with
    the archive protects nothing. Keep a copy of the .pub file elsewhere and point
    $ARCHIVER_TRUSTED_KEYS at it on the machine that audits.

    \b
    Examples:
      archiver keygen
      ARCHIVER_KEY=/secure/archiver.key archiver keygen
      archiver keygen --wacz
    """
    from archiver.store import package_key, signing

    if for_wacz:
        path, kid = package_key.keygen(key_path, force=force, archive=open_archive(archive_dir))
    else:
        path, kid = signing.keygen(key_path, force=force, archive=open_archive(archive_dir))
    if as_json:
        emit_json({"key": str(path), "public_key": str(signing.public_path(path)),
                   "key_id": kid})
    else:
        click.echo(f"created {kid}\n  private key {path} (keep it secret, never in the "
                   f"archive)\n  public key  {signing.public_path(path)}")


@click.command()
@key_option
@archive_option
@json_option
@handle_errors
def sign(key_path: Path | None, archive_dir: Path | None, as_json: bool) -> None:
    """Sign the manifest's current head (seq + hash) with the Ed25519 key.

    The signature and public key are appended to manifest.sig.jsonl beside the manifest;
    `archiver audit` verifies them, so rewriting history and recomputing every hash after
    the edit is still caught.

    \b
    Example:
      archiver sign
    """
    from archiver.store import signing

    archive = writable_archive(archive_dir, "sign")
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest to sign")
    sig = signing.sign_head(archive, signing.load_private(key_path))
    if as_json:
        emit_json(sig.to_dict())
    else:
        click.echo(f"signed seq {sig.seq} {sig.hash} with {sig.key_id}")

