"""`archiver verify PACKAGE.wacz`: every step of a WACZ's signature, offline, one line each."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archiver.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    emit_json,
    handle_errors,
    json_option,
    quiet_option,
    shown,
)


@click.command("verify")
@click.argument("package", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trust-roots", "roots", type=click.Path(dir_okay=False, path_type=Path),
              multiple=True,
              help="PEM file of root certificates to trust for the domain certificate and the "
                   "TSA (repeatable). Without it, no chain is judged.")
@click.option("--trusted-key", "keys", type=click.Path(dir_okay=False, path_type=Path),
              multiple=True,
              help="PEM public key to trust (repeatable): an anonymous signature's P-384 key "
                   "(`archiver keygen --wacz` writes its .pub), or the Ed25519 key of the "
                   "archive's manifest signatures.")
@click.option("--witness", "witnesses", multiple=True,
              help="A witness's vkey (or a file holding it), repeatable: packaged checkpoints "
                   "must carry --witnesses-min of their cosignatures.")
@click.option("--witnesses-min", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --witness: cosignatures each checkpointed seq needs.")
@click.option("--strict", is_flag=True,
              help="A check that could not be made (SKIP: no roots, no trusted key) fails "
                   "the verification too (exit 1).")
@json_option
@quiet_option
@handle_errors
def verify_command(package: Path, roots: tuple[Path, ...], keys: tuple[Path, ...],
                   witnesses: tuple[str, ...], witnesses_min: int, strict: bool, as_json: bool,
                   quiet: bool) -> None:
    """Verify a WACZ package offline, step by step, whoever made it.

    Checks every resource against datapackage.json, the digest of datapackage.json, the
    signedData (WACZ Signing and Verification 0.1.0: anonymous ECDSA, or a domain certificate
    with an RFC 3161 time-stamp: imprint, TSA signature and EKU, created within 10 minutes of
    genTime, both chains to --trust-roots at genTime) and, in archiver's packages, the
    manifest's hash chain, its Ed25519 head signatures, the packed files and each RFC 3161
    token over its heads (as audit checks them, against --trust-roots). One line per
    check (PASS, FAIL, SKIP = nothing to check it against, INFO). Exit 0 when no check
    failed, 1 when one did (with --strict: or was skipped), 2 when the file is not a
    readable WACZ.

    \b
    Examples:
      archiver verify collection.wacz
      archiver verify signed.wacz --trust-roots roots.pem --json
      archiver verify anonymous.wacz --trusted-key ~/.config/archiver/wacz-p384.pub --strict
    """
    from archiver.check import wacz_verify
    from archiver.cli.check import witness_keys

    verifiers = tuple(witness_keys(witnesses, witnesses_min))
    trust = wacz_verify.TrustOptions(wacz_verify.load_roots(list(roots)),
                                     wacz_verify.load_keys(list(keys)), verifiers,
                                     witnesses_min)
    checks = wacz_verify.verify_package(package, trust)
    bad = wacz_verify.failed(checks)
    skipped = sorted({c.name for c in checks if c.status == "skip"})
    for check in checks:
        if as_json:
            emit_json(check.to_dict())
        elif not quiet or check.status == "fail" or (strict and check.status == "skip"):
            click.echo(shown(check.render()))  # the details quote the package's own text
    if not as_json and not quiet:
        passed = sum(c.status == "pass" for c in checks)
        unchecked = f"; not checked: {', '.join(skipped)}" if skipped else ""
        if bad:
            verdict = (f"NOT VERIFIED: {len(bad)} check(s) failed: "
                       f"{', '.join(sorted({c.name for c in bad}))}")
        elif strict and skipped:
            verdict = f"NOT VERIFIED (--strict){unchecked}"
        else:
            verdict = f"verified: {passed} checks passed{unchecked or ', every step checked'}"
        click.echo(f"{package}: {verdict}")
    sys.exit(EXIT_FINDINGS if bad or (strict and skipped) else EXIT_OK)
