"""The text-level rewrite of `[mlflow] database_uri`, checked against configparser as MLflow reads the file."""

from __future__ import annotations

import base64
import configparser
import hashlib
import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mlops.mlflow.plugins.module_utils import basic_auth_ini
from ansible_collections.mlops.mlflow.plugins.module_utils.basic_auth_ini import (
    IniError,
    rewrite_database_uri,
    secret_data_patch,
    sha256,
    text_from_secret_data,
)
from ansible_collections.mlops.mlflow.plugins.module_utils.sqlalchemy_uri import UriError, parse_uri

OLD_URI_LINE = "database_uri = postgresql://app:old%%40pass@pg-cluster-v1-rw:5432/mlflow_auth"
TYPICAL = (
    "# MLflow basic-auth settings, managed by the platform team\n"
    "[mlflow]\n"
    "default_permission = READ\n"
    "; the auth database lives in the CNPG cluster\n"
    f"{OLD_URI_LINE}\n"
    "# database_uri = sqlite:///basic_auth.db\n"
    "admin_username = admin\n"
    "admin_password = Adm1n-%%-Passw0rd\n"
    "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
)


def mlflow_reads(text: str) -> str:
    """What MLflow's read_auth_config gets for database_uri (a file opened in text mode, interpolation on)."""
    parser = configparser.ConfigParser()
    parser.read_string(re.sub(r"\r\n?", "\n", text))
    return parser["mlflow"]["database_uri"]


def outside_value_is_unchanged(old: str, new: str, old_value: str) -> bool:
    start = old.index(old_value)
    end = start + len(old_value)
    tail = len(old) - end
    return new[:start] == old[:start] and new[len(new) - tail:] == old[end:]


def test_host_and_password_change_and_nothing_else():
    result = rewrite_database_uri(TYPICAL, host="pg-cluster-v2-rw", password="n3w%p@ss")
    assert result.changed
    assert mlflow_reads(result.text) == "postgresql://app:n3w%25p%40ss@pg-cluster-v2-rw:5432/mlflow_auth"
    assert parse_uri(mlflow_reads(result.text)).password == "n3w%p@ss"
    old_value = OLD_URI_LINE.split(" = ", 1)[1]
    assert outside_value_is_unchanged(TYPICAL, result.text, old_value)
    assert result.before.summary() == {"host": "pg-cluster-v1-rw", "port": 5432, "database": "mlflow_auth",
                                       "username": "app"}
    assert result.after.summary() == {"host": "pg-cluster-v2-rw", "port": 5432, "database": "mlflow_auth",
                                      "username": "app"}


def test_existing_double_percent_is_read_as_one():
    result = rewrite_database_uri(TYPICAL)
    assert result.before.password == "old@pass"
    assert not result.changed
    assert result.text is TYPICAL


def test_second_run_with_same_inputs_changes_nothing():
    first = rewrite_database_uri(TYPICAL, host="pg-cluster-v2-rw", port=5433, password="p%40ss@w:rd/#;x")
    second = rewrite_database_uri(first.text, host="pg-cluster-v2-rw", port=5433, password="p%40ss@w:rd/#;x")
    assert not second.changed
    assert second.text == first.text
    assert sha256(second.text) == sha256(first.text)


def test_checksum_is_sha256_of_the_utf8_text():
    assert sha256(TYPICAL) == hashlib.sha256(TYPICAL.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("password", ["%", "%%", "p%40ss", "@", ":", "/", "#", ";", "p%40ss@w:rd/#;x",
                                      "%(admin_username)s", "with space", "ünïcödé", "a=b&c?d", "\\", "'\""])
def test_special_passwords_read_back_exactly(password):
    result = rewrite_database_uri(TYPICAL, password=password)
    assert parse_uri(mlflow_reads(result.text)).password == password


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
               max_size=30))
def test_any_password_reads_back_exactly_and_other_values_stay(password):
    result = rewrite_database_uri(TYPICAL, password=password)
    assert parse_uri(mlflow_reads(result.text)).password == password
    parser = configparser.ConfigParser()
    parser.read_string(result.text)
    assert parser.get("mlflow", "admin_password") == "Adm1n-%-Passw0rd"


def test_crlf_line_endings_are_kept():
    crlf = TYPICAL.replace("\n", "\r\n")
    result = rewrite_database_uri(crlf, host="pg-cluster-v2-rw")
    assert result.text == crlf.replace("pg-cluster-v1-rw", "pg-cluster-v2-rw")
    assert result.text.count("\r\n") == crlf.count("\r\n")


def test_mixed_and_old_mac_line_endings_and_no_final_newline():
    text = "[mlflow]\rdefault_permission = READ\r\n" + OLD_URI_LINE + "\nadmin_username = admin"
    result = rewrite_database_uri(text, host="pg-cluster-v2-rw")
    assert result.text == text.replace("pg-cluster-v1-rw", "pg-cluster-v2-rw")


def test_key_case_colon_delimiter_and_spacing_are_kept():
    text = "[mlflow]\n  Database_URI:postgresql://app:pw@old-host/mlflow_auth   \nadmin_username=admin\n"
    result = rewrite_database_uri(text, host="new-host")
    assert result.text == "[mlflow]\n  Database_URI:postgresql://app:pw@new-host/mlflow_auth   \nadmin_username=admin\n"


def test_commented_out_uri_and_other_sections_are_not_touched():
    text = (
        "[other]\n"
        "database_uri = postgresql://x:y@other-host/other\n"
        "[mlflow]\n"
        "# database_uri = postgresql://app:pw@commented-host/mlflow_auth\n"
        "    ; database_uri = postgresql://app:pw@indented-comment/mlflow_auth\n"
        "database_uri = postgresql://app:pw@old-host/mlflow_auth\n"
        "# a comment right below the key\n"
        "\n"
        "[after]\n"
        "database_uri = postgresql://x:y@after-host/after\n"
    )
    result = rewrite_database_uri(text, host="new-host")
    assert result.text == text.replace("@old-host/", "@new-host/")


def test_query_string_and_driver_are_kept():
    text = "[mlflow]\ndatabase_uri = postgresql+psycopg2://app:pw@old:5432/mlflow_auth?sslmode=require&x=%%2F\n"
    result = rewrite_database_uri(text, host="new", password="p%w")
    assert mlflow_reads(result.text) == "postgresql+psycopg2://app:p%25w@new:5432/mlflow_auth?sslmode=require&x=%2F"


def test_ipv6_host_is_bracketed_in_the_file():
    result = rewrite_database_uri(TYPICAL, host="fd00::10", port=5432)
    assert mlflow_reads(result.text) == "postgresql://app:old%40pass@[fd00::10]:5432/mlflow_auth"
    assert result.after.host == "fd00::10"


def test_ipv6_host_in_the_file_is_read():
    text = "[mlflow]\ndatabase_uri = postgresql://app:pw@[::1]:5432/mlflow_auth\n"
    result = rewrite_database_uri(text, host="::1")
    assert not result.changed
    assert result.before.host == "::1"


def test_unescaped_percent_is_taken_literally_and_repaired_with_a_warning():
    text = "[mlflow]\ndatabase_uri = postgresql://app:p%40ss@old/mlflow_auth\n"
    with pytest.raises(configparser.InterpolationSyntaxError):
        mlflow_reads(text)
    result = rewrite_database_uri(text)
    assert result.changed
    assert result.before.password == "p@ss"
    assert mlflow_reads(result.text) == "postgresql://app:p%40ss@old/mlflow_auth"
    assert any("could not read it" in warning for warning in result.warnings)


def test_interpolated_value_is_kept_when_nothing_changes_and_made_literal_when_it_does():
    text = "[DEFAULT]\npghost = old-host\n[mlflow]\ndatabase_uri = postgresql://app:pw@%(pghost)s/mlflow_auth\n"
    assert rewrite_database_uri(text, host="old-host").text is text
    result = rewrite_database_uri(text, host="new-host")
    assert mlflow_reads(result.text) == "postgresql://app:pw@new-host/mlflow_auth"


def test_unresolvable_interpolation_is_an_error():
    text = "[mlflow]\ndatabase_uri = postgresql://app:pw@%(nowhere)s/mlflow_auth\n"
    with pytest.raises(IniError, match="interpolation"):
        rewrite_database_uri(text, host="new-host")


def test_read_database_uri_is_left_alone_with_a_warning_and_its_password_is_a_secret():
    text = TYPICAL + "read_database_uri = postgresql://reader:r3ad%%40pw@pg-cluster-v1-ro/mlflow_auth\n"
    result = rewrite_database_uri(text, host="pg-cluster-v2-rw")
    assert "pg-cluster-v1-ro" in result.text
    assert any("read_database_uri" in warning for warning in result.warnings)
    assert {"r3ad@pw", "r3ad%40pw", "Adm1n-%-Passw0rd", "old@pass"} <= result.secrets()


def test_secrets_cover_every_form_of_both_passwords():
    result = rewrite_database_uri(TYPICAL, password="n%w")
    assert {"old@pass", "old%40pass", "old%%40pass", "n%w", "n%25w", "n%%25w"} <= result.secrets()


def test_no_change_requested_is_a_read_only_run():
    result = rewrite_database_uri(TYPICAL)
    assert not result.changed
    assert result.before == result.after


@pytest.mark.parametrize("text, message", [
    ("default_permission = READ\n", "before any \\[section\\] header"),
    ("[other]\nx = 1\n", "no \\[mlflow\\] section"),
    ("[mlflow]\ndefault_permission = READ\n", "has no database_uri in \\[mlflow\\]"),
    ("[DEFAULT]\ndatabase_uri = postgresql://a:s3cr3t@h/d\n[mlflow]\nx = 1\n", "sets database_uri in \\[DEFAULT\\]"),
    ("[mlflow]\ndatabase_uri = not-a-uri-s3cr3t\n", "line 2\\) is not a usable URI"),
    ("[mlflow]\ndatabase_uri =\n", "is not a usable URI"),
    ("[mlflow]\ndatabase_uri = postgresql://a:s3cr3t@h:port/d\n", "port is not a number"),
    ("[mlflow]\ndatabase_uri = postgresql://a:s3cr3t@h/d\n  /continued\n", "continues on line 3"),
    ("[mlflow]\ndatabase_uri = postgresql://a:s3cr3t@h/d\nDATABASE_URI = postgresql://a:s3cr3t@h/e\n", "twice"),
    ("[mlflow]\nx = 1\n[mlflow]\ny = 2\n", "section \\[mlflow\\] twice"),
    ("[mlflow]\ndatabase_uri = postgresql://a:s3cr3t@h/d\njust some words s3cr3t\n", "line\\(s\\) 3"),
    ("\ufeff[mlflow]\ndatabase_uri = postgresql://a:s3cr3t@h/d\n", "before any \\[section\\] header"),
])
def test_errors_are_clear_and_never_echo_the_file(text, message):
    with pytest.raises(IniError, match=message) as error:
        rewrite_database_uri(text, host="pg-cluster-v2-rw")
    assert "s3cr3t" not in str(error.value)


def test_bad_inputs_are_refused_before_any_text_is_made():
    with pytest.raises(UriError, match="not a valid hostname"):
        rewrite_database_uri(TYPICAL, host="pg_cluster")
    with pytest.raises(UriError, match="not a TCP port"):
        rewrite_database_uri(TYPICAL, port=70000)


def test_self_check_refuses_a_rewrite_that_does_not_read_back(monkeypatch):
    # Simulate a bug in the escaping: the self-check must stop it before anything is returned for writing.
    monkeypatch.setattr(basic_auth_ini, "escape_value", lambda value: value)
    with pytest.raises(IniError, match="left untouched: self-check"):
        rewrite_database_uri(TYPICAL, password="100%")


def test_decode_refuses_non_utf8():
    with pytest.raises(IniError, match="not UTF-8"):
        basic_auth_ini.decode(b"[mlflow]\n\xff\n", "basic-auth.ini")


def test_unquote_of_written_password_matches_sqlalchemy_rules():
    # SQLAlchemy 2.x unquotes the password with urllib's unquote; the file holds it encoded, % doubled.
    result = rewrite_database_uri(TYPICAL, password="a%b")
    raw = result.text.split("app:", 1)[1].split("@", 1)[0]
    assert raw == "a%%25b"
    assert unquote(raw.replace("%%", "%")) == "a%b"


def test_secret_data_round_trip_and_patch_sets_only_the_key_with_a_precondition():
    data = {"basic-auth.ini": base64.b64encode(TYPICAL.encode("utf-8")).decode("ascii"), "other": "eA=="}
    text = text_from_secret_data(data, "basic-auth.ini", "Secret mlflow/mlflow-auth-config")
    assert text == TYPICAL
    result = rewrite_database_uri(text, host="pg-cluster-v2-rw")
    patch = secret_data_patch(result.text, "basic-auth.ini", "4711")
    assert patch == {"metadata": {"resourceVersion": "4711"},
                     "data": {"basic-auth.ini": base64.b64encode(result.text.encode("utf-8")).decode("ascii")}}


@pytest.mark.parametrize("data, message", [
    ({"other": "eA=="}, "has no key basic-auth.ini \\(its keys: other\\)"),
    (None, "its keys: none"),
    ({"basic-auth.ini": "not base64!"}, "not valid base64"),
    ({"basic-auth.ini": base64.b64encode(b"\xff\xfe").decode("ascii")}, "not UTF-8"),
])
def test_secret_data_errors(data, message):
    with pytest.raises(IniError, match=message):
        text_from_secret_data(data, "basic-auth.ini", "Secret mlflow/mlflow-auth-config")
