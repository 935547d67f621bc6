"""SQLAlchemy URI parsing, minimal edits, host/port validation and password masking."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mlops.mlflow.plugins.module_utils.sqlalchemy_uri import (
    PASSWORD_MASK,
    UriError,
    format_host,
    parse_uri,
    validate_port,
)

ROUND_TRIP = [
    "postgresql://app:secret@pg-cluster-v1-rw:5432/mlflow_auth",
    "postgresql+psycopg2://app:p%40ss%25@pg-cluster-v1-rw.mlflow.svc:5432/mlflow_auth?sslmode=require",
    "postgresql://app@[::1]:5432/db?sslmode=require&connect_timeout=10",
    "postgresql://app:pw@[fe80::1%25eth0]/db",
    "postgresql://:pw@host/db",
    "postgresql://host",
    "postgresql://host:/db",
    "postgresql:///db?host=/var/run/postgresql",
    "sqlite:///basic_auth.db",
    "mysql+pymysql://u:p@10.0.0.5:3306/auth?charset=utf8mb4",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_render_gives_back_the_text_parsed(text):
    assert parse_uri(text).render() == text


def test_parts_are_decoded_like_sqlalchemy():
    uri = parse_uri("postgresql+psycopg2://my%20user:p%40ss%25w%3Ard@pg-cluster-v1-rw:6432/mlflow%5Fauth"
                    "?sslmode=require")
    assert uri.scheme == "postgresql+psycopg2"
    assert uri.username == "my user"
    assert uri.password == "p@ss%w:rd"
    assert uri.host == "pg-cluster-v1-rw"
    assert uri.port == 6432
    assert uri.database == "mlflow_auth"
    assert uri.query == [("sslmode", "require")]
    assert uri.summary() == {"host": "pg-cluster-v1-rw", "port": 6432, "database": "mlflow_auth",
                             "username": "my user"}


def test_ipv6_host_loses_its_brackets_in_summary_only():
    uri = parse_uri("postgresql://app:pw@[2001:db8::7]:5432/db")
    assert uri.host == "2001:db8::7"
    assert uri.raw_host == "[2001:db8::7]"


def test_raw_at_sign_in_password_splits_where_sqlalchemy_splits():
    # SQLAlchemy's pattern stops the password at the first "@": the rest becomes the host.
    uri = parse_uri("postgresql://app:p@ss@host/db")
    assert uri.password == "p"
    assert uri.host == "ss@host"


def test_absent_parts_are_none():
    uri = parse_uri("postgresql://host")
    assert (uri.username, uri.password, uri.port, uri.database, uri.raw_query) == (None, None, None, None, None)


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("pg-cluster-v1-rw:5432/mlflow", "does not look like"),
    ("postgresql:/host/db", "does not look like"),
    ("postgresql://app:s3cr3t-value@host:54x2/db", "port is not a number"),
    ("postgresql://app:s3cr3t-value@host/db\nx", "several lines"),
])
def test_unparsable_uri_is_refused_without_echoing_it(text, reason):
    with pytest.raises(UriError) as error:
        parse_uri(text)
    assert reason in str(error.value)
    assert "s3cr3t" not in str(error.value)


def test_changing_the_host_keeps_every_other_character():
    text = "postgresql+psycopg2://app:p%7Ess%40@pg-cluster-v1-rw:5432/mlflow_auth?sslmode=require&x=%2F"
    changed = parse_uri(text).with_changes(host="pg-cluster-v2-rw")
    assert changed.render() == text.replace("pg-cluster-v1-rw", "pg-cluster-v2-rw")


def test_same_values_change_nothing_even_when_encoded_differently():
    # "%7E" is how some tools write "~": the password is the same, so the text must stay as it is.
    uri = parse_uri("postgresql://app:p%7Ess@host:05432/db")
    assert uri.with_changes(host="host", port=5432, database="db", username="app", password="p~ss") is uri


def test_new_password_is_fully_url_encoded():
    password = "p%40ss@w:rd/#;x ?&é"
    uri = parse_uri("postgresql://app:old@host/db").with_changes(password=password)
    assert uri.raw_password == quote(password, safe="")
    assert uri.password == password
    assert parse_uri(uri.render()).password == password


def test_username_and_password_are_added_to_a_uri_without_credentials():
    uri = parse_uri("postgresql://host/db").with_changes(username="app", password="x@y")
    assert uri.render() == "postgresql://app:x%40y@host/db"


def test_password_without_any_username_is_refused():
    with pytest.raises(UriError, match="needs a username"):
        parse_uri("postgresql://host/db").with_changes(password="pw")


def test_empty_password_is_refused():
    with pytest.raises(UriError, match="password is empty"):
        parse_uri("postgresql://app:old@host/db").with_changes(password="")


def test_password_in_query_string_is_refused_because_it_would_win():
    uri = parse_uri("postgresql://app@host/db?password=old-query-secret")
    with pytest.raises(UriError, match="query string") as error:
        uri.with_changes(password="new")
    assert "old-query-secret" not in str(error.value)


def test_ipv6_host_is_written_in_brackets_and_port_added():
    uri = parse_uri("postgresql://app:pw@old/db").with_changes(host="::1", port=6543)
    assert uri.render() == "postgresql://app:pw@[::1]:6543/db"
    assert parse_uri("postgresql://app:pw@old/db").with_changes(host="[::1]").render() == \
        "postgresql://app:pw@[::1]/db"


def test_bracketed_and_plain_ipv6_are_the_same_host():
    uri = parse_uri("postgresql://app:pw@[::1]/db")
    assert uri.with_changes(host="::1") is uri


def test_sqlite_uri_refuses_server_parts():
    with pytest.raises(UriError, match="SQLite"):
        parse_uri("sqlite:///basic_auth.db").with_changes(host="pg-cluster-v2-rw")


def test_masked_hides_userinfo_and_query_passwords():
    uri = parse_uri("postgresql://app:top%25secret@host/db?sslmode=require&sslpassword=keypass")
    masked = uri.masked()
    assert masked == "postgresql://app:%s@host/db?sslmode=require&sslpassword=%s" % (PASSWORD_MASK, PASSWORD_MASK)
    assert uri.secrets() >= {"top%25secret", "top%secret", "top%%25secret", "top%%secret", "keypass"}


@given(st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s))
def test_any_password_round_trips_and_is_never_shown_masked(password):
    uri = parse_uri("postgresql+psycopg2://app:old@pg-cluster-v1-rw:5432/mlflow_auth?sslmode=require")
    changed = uri.with_changes(password=password)
    assert parse_uri(changed.render()).password == password
    assert changed.masked() == "postgresql+psycopg2://app:%s@pg-cluster-v1-rw:5432/mlflow_auth?sslmode=require" \
        % PASSWORD_MASK


@pytest.mark.parametrize("host, written", [
    ("pg-cluster-v2-rw", "pg-cluster-v2-rw"),
    ("pg-cluster-v2-rw.mlflow.svc.cluster.local", "pg-cluster-v2-rw.mlflow.svc.cluster.local"),
    ("db1.example.com.", "db1.example.com."),
    ("a" * 63 + ".example", "a" * 63 + ".example"),
    ("10.0.0.5", "10.0.0.5"),
    ("127.0.0.1", "127.0.0.1"),
    ("::1", "[::1]"),
    ("[2001:db8::7]", "[2001:db8::7]"),
    ("2001:db8::7", "[2001:db8::7]"),
])
def test_valid_hosts(host, written):
    assert format_host(host) == written


@pytest.mark.parametrize("host", [
    "", "-leading-hyphen", "trailing-hyphen-", "under_score", "a" * 64 + ".example", "two..dots",
    "999.1.1.1", "1.2.3", "[not-ipv6]", "host:5432", "host/db", "user@host", "host name", ("a" * 60 + ".") * 5,
])
def test_invalid_hosts(host):
    with pytest.raises(UriError, match="not a valid hostname|host is empty"):
        format_host(host)


@pytest.mark.parametrize("port", [1, 5432, 65535])
def test_valid_ports(port):
    assert validate_port(port) == port


@pytest.mark.parametrize("port", [0, -1, 65536, True, "5432"])
def test_invalid_ports(port):
    with pytest.raises(UriError, match="not a TCP port"):
        validate_port(port)
