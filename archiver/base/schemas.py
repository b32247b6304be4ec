"""JSON Schemas in `schemas/`: loading, compiling once, validating with formats checked.

Schemas are found in the installed wheel (`archiver._schemas`, mapped from the top-level
`schemas/` folder by pyproject) or, in a source checkout, in `schemas/` next to the
package. Each `<name>.schema.json` is checked against Draft 2020-12 and compiled once per
process: by jsonschema-rs for the yes/no check, and by jsonschema (check_schema, the slow
part) only when a document fails that check and its errors are wanted. Format checking
is really on: a `format` the checker cannot check is an error at load time, never a silent
pass; `date-time`, `uri`, `iri` and `hostname` have strict built-in fallbacks in case
jsonschema's format extras are not installed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError as JsonSchemaError

from archiver.base.errors import SchemaError, UnreadableInputError

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")
# RFC 3986 URI: scheme ":" then no spaces, controls, quotes or angle brackets.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def validate(document: Any, schema_name: str) -> list[tuple[str, str]]:
    """Errors as (JSON pointer, message), sorted; [] when valid.

    `schema_name` like "article" selects schemas/article.schema.json. The pointer is an
    RFC 6901 pointer into the document ("" is the document itself, "/body/0" its first
    paragraph). Valid documents are confirmed by the fast check (jsonschema-rs, see
    compile_fast below); anything it does not pass goes through jsonschema itself, which
    then produces the error messages.
    """
    fast = _fast(schema_name)
    if fast is not None and fast(document):
        return []
    validator = _validator(schema_name)  # compiled only when the fast check says no
    errors = [(_pointer(error.absolute_path), error.message)
              for error in validator.iter_errors(document)]
    return sorted(errors)


def check(document: Any, schema_name: str) -> None:
    """Raise archiver.base.errors.SchemaError(msg, errors) when the document is invalid."""
    errors = validate(document, schema_name)
    if errors:
        first = f"{errors[0][0] or '(document)'}: {errors[0][1]}"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SchemaError(f"document fails {schema_name}.schema.json at {first}{more}", errors)


def schema_names() -> list[str]:
    """Names of every schema shipped (file names without .schema.json)."""
    return sorted(path.name.removesuffix(".schema.json") for path in _schema_dir().iterdir()
                  if path.name.endswith(".schema.json"))


def load_schema(schema_name: str) -> dict[str, Any]:
    """The parsed schema document (a fresh copy each call, callers may mutate it)."""
    return json.loads(_schema_text(schema_name))


def _pointer(path: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    schema = load_schema(schema_name)
    try:
        Draft202012Validator.check_schema(schema)
    except JsonSchemaError as exc:
        raise UnreadableInputError(f"{schema_name}.schema.json is not a valid Draft 2020-12 "
                                   f"schema: {exc.message}") from exc
    return Draft202012Validator(schema, format_checker=_known_formats(schema_name, schema))


def _known_formats(schema_name: str, schema: dict[str, Any]) -> FormatChecker:
    """Our format checker, once every `format` the schema uses is known to it."""
    checker = format_checker()
    unknown = sorted(_formats(schema) - set(checker.checkers))
    if unknown:
        raise UnreadableInputError(f"{schema_name}.schema.json uses formats this install "
                                   f"cannot check: {', '.join(unknown)}")
    return checker


@cache
def _fast(schema_name: str) -> Callable[[Any], bool] | None:
    """The fast yes/no check, or None when jsonschema-rs cannot compile the schema.

    jsonschema-rs checks the schema against the Draft 2020-12 meta-schema as it compiles
    (an invalid one is None here, and jsonschema's check_schema then names the fault), so
    jsonschema's own check_schema, ~0.2-0.5 s for the manifest schema and the cost of every
    command that appends one event, is paid only when a document fails the fast check."""
    schema = load_schema(schema_name)
    return compile_fast(schema, _known_formats(schema_name, schema))


@cache
def _schema_text(schema_name: str) -> str:
    if not _NAME.match(schema_name):
        raise UnreadableInputError(f"bad schema name {schema_name!r}")
    path = _schema_dir() / f"{schema_name}.schema.json"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UnreadableInputError(f"schema {schema_name!r} not found at {path}") from exc


def _schema_dir() -> Any:
    """The schemas folder: inside the installed wheel, else the source checkout's."""
    try:
        packaged = resources.files("archiver._schemas")
        if packaged.joinpath("article.schema.json").is_file():
            return packaged
    except (ModuleNotFoundError, FileNotFoundError, TypeError):
        pass
    # archiver/base/schemas.py -> the checkout root
    return Path(__file__).resolve().parents[2] / "schemas"


def _formats(node: Any) -> set[str]:
    """Every `format` value used anywhere in a schema."""
    if isinstance(node, dict):
        found = {node["format"]} if isinstance(node.get("format"), str) else set()
        for value in node.values():
            found |= _formats(value)
        return found
    if isinstance(node, list):
        return set().union(*(_formats(item) for item in node)) if node else set()
    return set()


@cache
def format_checker() -> FormatChecker:
    """jsonschema's checkers plus strict fallbacks for the formats our schemas rely on."""
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        checker.checks("date-time")(_is_datetime)
    if "uri" not in checker.checkers:
        checker.checks("uri")(_is_uri)
    # Always ours: jsonschema's `iri` (rfc3987-syntax, a lark grammar) costs ~100 ms per
    # value, which would make a 100,000-article check take hours. Ours is the URI rule
    # without the ASCII-only restriction: scheme, ":", no spaces, controls or delimiters.
    checker.checks("iri")(_is_uri)
    if "hostname" not in checker.checkers:
        checker.checks("hostname")(_is_hostname)
    return checker


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or _URI.match(value) is not None


def _is_hostname(value: object) -> bool:
    if not isinstance(value, str):
        return True
    labels = value.rstrip(".").split(".")
    return len(value) <= 253 and all(_LABEL.match(label) for label in labels)


# --- fast check ----------------------------------------------------------------------------
# jsonschema spends ~500 us per article in its generic machinery (descend/evolve/$ref
# lookups), and a corpus check validates 100,000 articles and as many manifest entries. The
# yes/no question is therefore asked of jsonschema-rs (a compiled Draft 2020-12 validator,
# maintained, run against the official JSON-Schema-Test-Suite), with the very same format
# checks as jsonschema's (our FormatChecker's functions, passed in as its custom formats,
# which replace its own). It is only ever trusted to say "valid": anything else is
# re-checked by jsonschema, which gives the errors. tests/test_article_schema.py compares the
# two on thousands of mutated documents.
#
# One known, deliberate difference: jsonschema-rs reads `pattern` as ECMA-262 as JSON Schema
# says (2020-12 Core section 6.4), Python's `re` does not: for `\s` it counts U+001C-U+001F
# and U+0085 as spaces, ECMA-262 does not, so `[^<>\s]` (record ids) accepts them here. (The
# other differences, ASCII-only `\d` and `$` not matching before a final newline, make
# jsonschema-rs stricter, and jsonschema then has the last word as before.)


def compile_fast(schema: dict[str, Any], checker: FormatChecker) -> Callable[[Any], bool] | None:
    """A yes/no validator for `schema` (jsonschema-rs), or None if it cannot compile it."""
    import jsonschema_rs  # here: only checks of many documents need it

    formats = {name: _conforms(checker, name) for name in _formats(schema)}
    try:  # offline: our schemas refer only inside themselves; never fetch a remote $ref
        compiled = jsonschema_rs.validator_for(schema, formats=formats, validate_formats=True,
                                               offline=True)
    except (ValueError, jsonschema_rs.ReferencingError):
        return None
    return compiled.is_valid


def _conforms(checker: FormatChecker, name: str) -> Callable[[str], bool]:
    conforms = checker.conforms
    return lambda value: conforms(value, name)
