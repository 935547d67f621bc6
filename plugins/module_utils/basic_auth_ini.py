# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.mlflow maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Rewrite `database_uri` in MLflow's basic-auth.ini as a text edit of that one value.

MLflow reads the file with `configparser.ConfigParser()` (interpolation on: a literal `%` is written `%%`). Writing
the file back through configparser would drop comments, case and line endings, so the value is located by scanning
the lines with configparser's own rules and replaced in place; configparser is used only to validate the input and to
check that the result reads back as intended.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import hashlib
import re
from dataclasses import dataclass

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.sqlalchemy_uri import SqlalchemyUri, UriError, parse_uri

SECTION = "mlflow"
KEY = "database_uri"

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_COMMENT_PREFIXES = ("#", ";")
_NON_SPACE = re.compile(r"\S")


class IniError(CollectionError, ValueError):
    """The ini cannot be rewritten safely. Messages never contain a value from the file."""


@dataclass(frozen=True)
class ValueLocation:
    start: int  # offsets of the raw value in the whole text
    end: int
    line_number: int


@dataclass(frozen=True)
class Rewrite:
    before: SqlalchemyUri
    after: SqlalchemyUri
    text: str
    changed: bool
    warnings: tuple[str, ...] = ()
    other_secrets: frozenset[str] = frozenset()

    def secrets(self) -> set[str]:
        """Every secret the run has seen (database passwords in all their forms, other passwords of the file), for
        the module's no_log_values."""
        return self.before.secrets() | self.after.secrets() | self.other_secrets


def escape_value(value: str) -> str:
    """A literal value as configparser's interpolation needs it written."""
    return value.replace("%", "%%")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IniError("%s is not UTF-8 text (invalid byte at offset %d)" % (source, exc.start)) from None


def load(text: str, source: str) -> configparser.ConfigParser:
    """Parse `text` exactly as MLflow does; errors name the line, never its content."""
    parser = configparser.ConfigParser()
    try:
        # A file opened in text mode (as MLflow opens it) turns \r\n and \r into \n.
        parser.read_string(re.sub(r"\r\n?", "\n", text), source=source)
    except configparser.MissingSectionHeaderError as exc:
        raise IniError("%s is not an ini file: line %d comes before any [section] header"
                       % (source, exc.lineno)) from None
    except configparser.DuplicateSectionError as exc:
        raise IniError("%s has section [%s] twice (line %s); MLflow refuses such a file: keep one"
                       % (source, exc.section, exc.lineno)) from None
    except configparser.DuplicateOptionError as exc:
        raise IniError("%s has %s twice in [%s] (line %s); MLflow refuses such a file: keep one"
                       % (source, exc.option, exc.section, exc.lineno)) from None
    except configparser.ParsingError as exc:
        lines = ", ".join(str(error[0]) for error in exc.errors)
        raise IniError("%s cannot be parsed as an ini file: no 'key = value' on line(s) %s" % (source, lines)) from None
    except configparser.Error as exc:
        raise IniError("%s cannot be parsed as an ini file (%s)" % (source, type(exc).__name__)) from None
    return parser


def locate_value(text: str, section: str = SECTION, key: str = KEY) -> ValueLocation | None:
    """Find the raw value of `key` in `section` by configparser's rules (default settings, as MLflow uses them):
    full-line comments start with # or ;, no inline comments, `=` or `:` delimit, keys are case-insensitive,
    more-indented lines continue the value above. None when the section has no such key."""
    current_section = None
    option = None
    indent_level = 0
    found = None
    offset = 0
    for number, match in enumerate(_LINE.finditer(text), start=1):
        line = match.group(0)
        content = line.rstrip("\r\n")
        line_start = offset
        offset += len(line)
        stripped = content.strip()
        if not stripped or stripped.startswith(_COMMENT_PREFIXES):
            continue
        first = _NON_SPACE.search(content)
        indent = first.start() if first else 0
        if current_section is not None and option and indent > indent_level:
            if found and (current_section, option) == (section, key):
                raise IniError("[%s] %s continues on line %d (an indented line below it): write the URI on one line"
                               % (section, key, number))
            continue
        indent_level = indent
        header = configparser.ConfigParser.SECTCRE.match(stripped)
        if header:
            current_section = header.group("header")
            option = None
            continue
        pair = configparser.ConfigParser.OPTCRE.match(stripped)
        if current_section is None or not pair:
            raise IniError("line %d is neither a [section], a comment nor a 'key = value' line" % number)
        option = pair.group("option").rstrip().lower()
        if (current_section, option) == (section, key):
            start = line_start + (len(content) - len(content.lstrip())) + pair.start("value")
            found = ValueLocation(start=start, end=start + len(pair.group("value")), line_number=number)
    return found


def current_value(parser: configparser.ConfigParser, source: str, section: str = SECTION,
                  key: str = KEY) -> tuple[str, bool]:
    """The value MLflow reads, and whether it could read it at all (False: an unescaped %, so take it literally)."""
    try:
        return parser.get(section, key), True
    except configparser.InterpolationSyntaxError:
        return parser.get(section, key, raw=True), False
    except configparser.InterpolationError as exc:
        raise IniError("%s: [%s] %s uses %%(name)s interpolation that MLflow cannot resolve (%s): write the URI "
                       "literally, with every %% doubled" % (source, section, key, type(exc).__name__)) from None


def _raw_items(parser: configparser.ConfigParser) -> dict:
    return {name: dict(parser.items(name, raw=True)) if name != parser.default_section else dict(parser.defaults())
            for name in [parser.default_section] + parser.sections()}


def rewrite_database_uri(text: str, source: str = "basic-auth.ini", host: str | None = None, port: int | None = None,
                         database: str | None = None, username: str | None = None,
                         password: str | None = None) -> Rewrite:
    """Point `[mlflow] database_uri` in the ini `text` at a new host/port/database/user/password.

    Only the given parts change; everything else in the file stays byte-for-byte. Raises IniError or UriError with a
    message that names no secret.
    """
    parser = load(text, source)
    if not parser.has_section(SECTION):
        raise IniError("%s has no [%s] section: is it MLflow's basic-auth.ini?" % (source, SECTION))
    location = locate_value(text)
    if location is None:
        if KEY in parser.defaults():
            raise IniError("%s sets %s in [%s], not in [%s]: move it into [%s]"
                           % (source, KEY, parser.default_section, SECTION, SECTION))
        raise IniError("%s has no %s in [%s]: add the line '%s = <URI>' to [%s]" % (source, KEY, SECTION, KEY, SECTION))
    if text[location.start:location.end] != parser.get(SECTION, KEY, raw=True):
        raise IniError("%s was left untouched: the line of [%s] %s could not be located with certainty; please "
                       "report this with the file's layout (without its secrets)" % (source, SECTION, KEY))
    value, readable = current_value(parser, source)
    try:
        before = parse_uri(value)
    except UriError as exc:
        raise IniError("%s: [%s] %s (line %d) is not a usable URI: %s"
                       % (source, SECTION, KEY, location.line_number, exc)) from None
    after = before.with_changes(host=host, port=port, database=database, username=username, password=password)
    warnings = []
    if not readable:
        warnings.append("%s: [%s] %s had a '%%' that is not written '%%%%', so MLflow could not read it; it is "
                        "rewritten with the escaping configparser needs" % (source, SECTION, KEY))
    if parser.has_option(SECTION, "read_database_uri"):
        warnings.append("%s: [%s] read_database_uri is set and was left as it is; point it at the new database "
                        "too if needed" % (source, SECTION))
    other_secrets = _other_secrets(parser)
    if after == before and readable:
        return Rewrite(before=before, after=after, text=text, changed=False, warnings=tuple(warnings),
                       other_secrets=other_secrets)
    new_text = text[:location.start] + escape_value(after.render()) + text[location.end:]
    _check_rewrite(parser, new_text, after, source)
    return Rewrite(before=before, after=after, text=new_text, changed=new_text != text, warnings=tuple(warnings),
                   other_secrets=other_secrets)


def _other_secrets(parser: configparser.ConfigParser) -> frozenset[str]:
    """Secrets among the file's other values: password-like keys (admin_password) and passwords in other URIs
    (read_database_uri), raw and unescaped."""
    values = set()
    for name, raw in parser.items(SECTION, raw=True):
        if name == KEY or not raw:
            continue
        if "password" in name or "secret" in name:
            values.update((raw, raw.replace("%%", "%")))
        elif name.endswith("_uri"):
            try:
                values.update(parse_uri(raw.replace("%%", "%")).secrets())
            except UriError:
                pass
    return frozenset(values)


def _check_rewrite(old: configparser.ConfigParser, new_text: str, after: SqlalchemyUri, source: str) -> None:
    """Fail safe: the new text must read back as the intended URI, with every other value as it was."""
    try:
        new = load(new_text, source)
        read_back = new.get(SECTION, KEY)
    except (IniError, configparser.Error):
        read_back = None
        new = None
    problem = None
    if read_back != after.render():
        problem = "the new %s does not read back as written" % KEY
    else:
        old_items, new_items = _raw_items(old), _raw_items(new)
        old_items[SECTION].pop(KEY)
        new_items[SECTION].pop(KEY)
        if old_items != new_items:
            problem = "other values would change"
    if problem:
        raise IniError("%s was left untouched: self-check of the rewrite failed (%s); please report this with the "
                       "file's layout (without its secrets)" % (source, problem))


def text_from_secret_data(data: dict | None, key: str, where: str) -> str:
    """The ini held under `key` of a Secret's `data` (base64), as text."""
    data = data or {}
    if key not in data:
        raise IniError("%s has no key %s (its keys: %s): set secret.key" % (where, key, ", ".join(sorted(data)) or "none"))
    try:
        raw = base64.b64decode(data[key], validate=True)
    except (binascii.Error, ValueError):
        raise IniError("%s key %s is not valid base64" % (where, key)) from None
    return decode(raw, "%s key %s" % (where, key))


def secret_data_patch(text: str, key: str, resource_version: str) -> dict:
    """A merge patch that sets only `key`, and fails (409) if the Secret changed since it was read."""
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return {"metadata": {"resourceVersion": resource_version}, "data": {key: encoded}}
