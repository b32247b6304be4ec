"""JSON Schemas in `schemas/`: loading, compiling once, validating with formats checked.

Schemas are found in the installed wheel (`archiver._schemas`, mapped from the top-level
`schemas/` folder by pyproject) or, in a source checkout, in `schemas/` next to the
package. Each `<name>.schema.json` is checked against Draft 2020-12 and compiled into a
validator once per process. Format checking is really on: a `format` the checker cannot
check is an error at load time, never a silent pass; `date-time`, `uri`, `iri` and `hostname`
have strict built-in fallbacks in case jsonschema's format extras are not installed.
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
    paragraph). Valid documents are confirmed by the compiled fast check (see
    compile_fast below); anything it does not pass goes through jsonschema itself, which
    then produces the error messages.
    """
    validator = _validator(schema_name)
    fast = _fast(schema_name)
    if fast is not None and fast(document):
        return []
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
    checker = format_checker()
    unknown = sorted(_formats(schema) - set(checker.checkers))
    if unknown:
        raise UnreadableInputError(f"{schema_name}.schema.json uses formats this install "
                                   f"cannot check: {', '.join(unknown)}")
    return Draft202012Validator(schema, format_checker=checker)


@cache
def _fast(schema_name: str) -> Callable[[Any], bool] | None:
    """The compiled yes/no check, or None when the schema uses keywords it does not know."""
    _validator(schema_name)  # the schema is checked (and its formats known) first
    return compile_fast(load_schema(schema_name), format_checker())


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


# --- compiled fast check -------------------------------------------------------------------
# jsonschema spends ~500 us per article in its generic machinery (descend/evolve/$ref
# lookups); a corpus check validates 100,000 articles. The schema is therefore also
# compiled into plain closures that answer only "valid?" for the keyword subset our schemas
# use, with the very same format checker. It is only ever trusted to say "valid": every
# other answer is re-checked by jsonschema, which gives the errors. A schema with any other
# keyword gets no fast check at all. tests/test_article_schema.py compares both on
# thousands of mutated documents.

Check = Callable[[Any], bool]
_IGNORED = {"$schema", "$id", "$comment", "title", "description", "version", "$defs",
            "examples", "default"}
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}


_PY_TYPES: dict[str, type] = {"object": dict, "array": list, "string": str, "boolean": bool,
                              "null": type(None)}


class _Unsupported(Exception):
    pass


def compile_fast(schema: dict[str, Any], checker: FormatChecker) -> Check | None:
    """A yes/no validator for `schema`, or None if it uses keywords not handled here."""
    try:
        return _Compiler(schema, checker).compile(schema)
    except _Unsupported:
        return None


class _Compiler:
    def __init__(self, root: dict[str, Any], checker: FormatChecker) -> None:
        self.root = root
        self.checker = checker
        self.refs: dict[str, Check] = {}

    def compile(self, node: Any) -> Check:
        if node is True or node == {}:
            return lambda value: True
        if node is False:
            return lambda value: False
        if not isinstance(node, dict):
            raise _Unsupported(repr(node))
        compiled = [self._keyword(key, node) for key in node if key not in _IGNORED]
        checks = [check for check in compiled if check is not None]
        if len(checks) == 1:
            return checks[0]
        chain = tuple(checks)

        def check_all(value: Any) -> bool:
            for check in chain:  # noqa: SIM110 (a plain loop is measurably faster than all())
                if not check(value):
                    return False
            return True
        return check_all

    def _keyword(self, key: str, node: dict[str, Any]) -> Check | None:
        handler = getattr(self, "_k_" + key.replace("$", "dollar_"), None)
        if handler is None:
            raise _Unsupported(key)
        return handler(node[key], node)

    def _k_dollar_ref(self, ref: str, node: dict[str, Any]) -> Check:
        if not ref.startswith("#/"):
            raise _Unsupported(ref)
        if ref not in self.refs:
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            self.refs[ref] = lambda value: True  # placeholder while compiling (recursion)
            self.refs[ref] = self.compile(target)
        refs = self.refs
        return lambda value: refs[ref](value)

    def _k_type(self, kind: str | list[str], node: dict[str, Any]) -> Check:
        kinds = [kind] if isinstance(kind, str) else kind
        if all(k in _PY_TYPES for k in kinds):  # no number/integer: one isinstance call
            classes = tuple(_PY_TYPES[k] for k in kinds)
            return lambda value: isinstance(value, classes)
        tests = [_TYPES[k] for k in kinds]
        return lambda value: any(test(value) for test in tests)

    def _k_properties(self, props: dict[str, Any], node: dict[str, Any]) -> Check:
        compiled = {name: self.compile(sub) for name, sub in props.items()}

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for name, test in compiled.items():
                if name in value and not test(value[name]):
                    return False
            return True
        return check

    def _k_required(self, names: list[str], node: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, dict) or all(n in value for n in names)

    def _k_additionalProperties(self, extra: Any, node: dict[str, Any]) -> Check:
        if "patternProperties" in node:
            raise _Unsupported("patternProperties")
        known = set(node.get("properties", {}))
        test = self.compile(extra)
        return lambda value: not isinstance(value, dict) or all(
            test(item) for key, item in value.items() if key not in known)

    def _k_propertyNames(self, names: Any, node: dict[str, Any]) -> Check:
        test = self.compile(names)
        return lambda value: not isinstance(value, dict) or all(test(key) for key in value)

    def _k_items(self, items: Any, node: dict[str, Any]) -> Check:
        if "prefixItems" in node:
            raise _Unsupported("prefixItems")
        test = self.compile(items)
        return lambda value: not isinstance(value, list) or all(test(item) for item in value)

    def _k_minItems(self, bound: int, node: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, list) or len(value) >= bound

    def _k_maxItems(self, bound: int, node: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, list) or len(value) <= bound

    def _k_uniqueItems(self, unique: bool, node: dict[str, Any]) -> Check:
        if not unique:
            return lambda value: True
        return lambda value: not isinstance(value, list) or _all_unique(value)

    def _k_minLength(self, bound: int, node: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, str) or len(value) >= bound

    def _k_maxLength(self, bound: int, node: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, str) or len(value) <= bound

    def _k_pattern(self, pattern: str, node: dict[str, Any]) -> Check:
        search = re.compile(pattern).search
        return lambda value: not isinstance(value, str) or search(value) is not None

    def _k_format(self, name: str, node: dict[str, Any]) -> Check:
        conforms = self.checker.conforms
        return lambda value: conforms(value, name)

    def _k_enum(self, options: list[Any], node: dict[str, Any]) -> Check:
        if all(isinstance(option, str) for option in options):
            names = frozenset(options)
            return lambda value: isinstance(value, str) and value in names
        return lambda value: any(_equal(value, option) for option in options)

    def _k_const(self, expected: Any, node: dict[str, Any]) -> Check:
        if isinstance(expected, str):
            return lambda value: isinstance(value, str) and value == expected
        return lambda value: _equal(value, expected)

    def _k_minimum(self, bound: float, node: dict[str, Any]) -> Check:
        return lambda value: not _TYPES["number"](value) or value >= bound


def _equal(left: Any, right: Any) -> bool:
    """JSON equality: true is not 1, 1 equals 1.0, containers compare deeply."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_equal, left, right))
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        return False
    if isinstance(left, str) != isinstance(right, str):
        return False
    return bool(left == right)


def _all_unique(items: list[Any]) -> bool:
    if all(isinstance(item, str) for item in items):
        return len(set(items)) == len(items)
    return not any(_equal(items[i], items[j])
                   for i in range(len(items)) for j in range(i + 1, len(items)))
