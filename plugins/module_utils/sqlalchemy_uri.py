# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.mlflow maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Parse and edit SQLAlchemy database URIs the way SQLAlchemy itself reads them.

A URI is kept as the raw pieces it was written with, so that changing one part (the host, say) leaves every other
character as it was. Passwords never leave this module unmasked except through `password`/`render()`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, quote, unquote

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

PASSWORD_MASK = "********"

# The pattern of sqlalchemy.engine.url._parse_url (SQLAlchemy 1.4 to 2.1), so that a URI is split exactly where
# SQLAlchemy splits it: a raw "@" in a password, for example, ends the password there.
_URI_PATTERN = re.compile(
    r"""
        (?P<scheme>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class UriError(CollectionError, ValueError):
    """A URI or a URI part that cannot be used. Messages never contain a password."""


@dataclass(frozen=True)
class SqlalchemyUri:
    """A SQLAlchemy URI as its raw (still URL-encoded) pieces; None means the piece is absent."""

    scheme: str
    raw_username: str | None = None
    raw_password: str | None = None
    raw_host: str | None = None  # as written: an IPv6 address keeps its brackets
    raw_port: str | None = None
    raw_database: str | None = None
    raw_query: str | None = None

    @property
    def username(self) -> str | None:
        return None if self.raw_username is None else unquote(self.raw_username)

    @property
    def password(self) -> str | None:
        return None if self.raw_password is None else unquote(self.raw_password)

    @property
    def host(self) -> str | None:
        if not self.raw_host:
            return None
        if self.raw_host.startswith("["):
            return self.raw_host[1:-1]
        return self.raw_host

    @property
    def port(self) -> int | None:
        return int(self.raw_port) if self.raw_port else None

    @property
    def database(self) -> str | None:
        return None if self.raw_database is None else unquote(self.raw_database)

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(self.raw_query or "", keep_blank_values=True)

    @property
    def is_sqlite(self) -> bool:
        return self.scheme.split("+", 1)[0].lower() == "sqlite"

    def render(self, mask_secrets: bool = False) -> str:
        """The URI text; with `mask_secrets`, passwords (userinfo and query) are replaced by a mask."""
        text = self.scheme + "://"
        if self.raw_username is not None:
            text += self.raw_username
            if self.raw_password is not None:
                text += ":" + (PASSWORD_MASK if mask_secrets else self.raw_password)
            text += "@"
        text += self.raw_host or ""
        if self.raw_port is not None:
            text += ":" + self.raw_port
        if self.raw_database is not None:
            text += "/" + self.raw_database
        if self.raw_query is not None:
            text += "?" + (_mask_query(self.raw_query) if mask_secrets else self.raw_query)
        return text

    def masked(self) -> str:
        return self.render(mask_secrets=True)

    def summary(self) -> dict:
        """The parts that are safe to show: host, port, database and username (never the password)."""
        return {"host": self.host, "port": self.port, "database": self.database, "username": self.username}

    def secrets(self) -> set[str]:
        """Every form in which a password of this URI may appear in text (decoded, encoded, ini-escaped)."""
        values = set()
        candidates = [(self.raw_password, self.password)]
        candidates += [(value, value) for key, value in self.query if _is_secret_key(key)]
        for raw, decoded in candidates:
            for value in (raw, decoded):
                if value:
                    values.add(value)
                    values.add(value.replace("%", "%%"))
        return values

    def with_changes(self, host: str | None = None, port: int | None = None, database: str | None = None,
                     username: str | None = None, password: str | None = None) -> SqlalchemyUri:
        """A copy with the given parts set; parts whose value is already the same keep their raw text."""
        if self.is_sqlite and any(value is not None for value in (host, port, username, password)):
            raise UriError(
                "the URI is a SQLite URI (scheme %s): host, port, username and password only apply to a database "
                "server; write a server URI (for example postgresql://...) instead" % self.scheme)
        changes = {}
        if host is not None and format_host(host) != self.raw_host:
            changes["raw_host"] = format_host(host)
        if port is not None and validate_port(port) != self.port:
            changes["raw_port"] = str(port)
        if database is not None and database != self.database:
            changes["raw_database"] = quote(_require_text("database", database), safe="")
        if username is not None and username != self.username:
            changes["raw_username"] = quote(_require_text("username", username), safe="")
        if password is not None:
            if password == "":
                raise UriError("password is empty: give the database password, or leave password out to keep the "
                               "current one")
            if any(_is_secret_key(key) for key, _value in self.query):
                raise UriError("the URI also sets a password in its query string, which would override the new "
                               "password: remove it from the query string first")
            if password != self.password:
                changes["raw_password"] = quote(password, safe="")
        if "raw_password" in changes and changes.get("raw_username", self.raw_username) is None:
            raise UriError("a password needs a username, and the URI has none: give username as well")
        return replace(self, **changes) if changes else self


def _require_text(name: str, value: str) -> str:
    if value == "":
        raise UriError("%s is empty: give a value, or leave %s out to keep the current one" % (name, name))
    return value


def _is_secret_key(key: str) -> bool:
    return "password" in key.lower()


def _mask_query(raw_query: str) -> str:
    parts = []
    for part in raw_query.split("&"):
        key = unquote(part.split("=", 1)[0].replace("+", " "))
        parts.append(key + "=" + PASSWORD_MASK if "=" in part and _is_secret_key(key) else part)
    return "&".join(parts)


def parse_uri(text: str) -> SqlalchemyUri:
    """Split `text` as SQLAlchemy does; raise UriError (without the URI, which may hold a password) if it cannot."""
    if not isinstance(text, str) or not text:
        raise UriError("the URI is empty")
    if "\n" in text or "\r" in text:
        raise UriError("the URI spans several lines")
    match = _URI_PATTERN.match(text)
    if match is None or match.end() != len(text):
        raise UriError("it does not look like a SQLAlchemy URI (dialect[+driver]://user:password@host:port/database)")
    parts = match.groupdict()
    uri = SqlalchemyUri(
        scheme=parts["scheme"],
        raw_username=parts["username"],
        raw_password=parts["password"],
        raw_host="[%s]" % parts["ipv6host"] if parts["ipv6host"] is not None else parts["ipv4host"],
        raw_port=parts["port"],
        raw_database=parts["database"],
        raw_query=parts["query"],
    )
    if uri.raw_port and not uri.raw_port.isdigit():
        raise UriError("its port is not a number (SQLAlchemy would refuse it)")
    return uri


def validate_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise UriError("port %r is not a TCP port: give a number from 1 to 65535" % (port,))
    return port


def format_host(host: str) -> str:
    """`host` as written in a URI (an IPv6 address in brackets), after checking it is a hostname (RFC 1123), an IPv4
    or an IPv6 address."""
    if not isinstance(host, str) or not host:
        raise UriError("host is empty: give a hostname or an IP address")
    bracketed = host.startswith("[") and host.endswith("]")
    candidate = host[1:-1] if bracketed else host
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        address = None
    if address is not None:
        return "[%s]" % candidate if address.version == 6 else candidate
    problem = "host %r is not a valid hostname (RFC 1123), IPv4 address or IPv6 address" % host
    if bracketed:
        raise UriError(problem + ": only an IPv6 address goes in brackets")
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise UriError(problem + ": use letters, digits and hyphens in dot-separated labels of at most 63 characters")
    if all(label.isdigit() for label in labels):
        raise UriError(problem + ": it looks like an IPv4 address but is not one")
    return host
