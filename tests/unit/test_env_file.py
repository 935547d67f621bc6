"""aws.env parsing: what --from-env-file accepts, and clear refusals that never show a value."""

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils.env_file import EnvFileError, parse_env_file

REQUIRED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def test_parses_comments_blank_lines_and_values_verbatim():
    text = "# S3\n\nAWS_ACCESS_KEY_ID=AKIA123\nAWS_SECRET_ACCESS_KEY=a=b/c+d\nAWS_DEFAULT_REGION=eu-north-1\n"
    assert parse_env_file(text, REQUIRED) == {
        "AWS_ACCESS_KEY_ID": "AKIA123", "AWS_SECRET_ACCESS_KEY": "a=b/c+d", "AWS_DEFAULT_REGION": "eu-north-1"}


def test_crlf_lines():
    assert parse_env_file("A=1\r\nB=2\r\n") == {"A": "1", "B": "2"}


@pytest.mark.parametrize("text, message", [
    ("AWS_ACCESS_KEY_ID\n", "line 1 is not KEY=VALUE"),
    ("1BAD=x\n", "line 1: '1BAD' is not a valid"),
    ("A=1\nA=2\n", "line 2: A is set twice"),
    ("AWS_ACCESS_KEY_ID=x\n", "missing or empty: AWS_SECRET_ACCESS_KEY"),
    ("AWS_ACCESS_KEY_ID=x\nAWS_SECRET_ACCESS_KEY=\n", "missing or empty: AWS_SECRET_ACCESS_KEY"),
])
def test_malformed_files_are_refused(text, message):
    with pytest.raises(EnvFileError, match=message):
        parse_env_file(text, REQUIRED)


def test_error_never_contains_the_value():
    with pytest.raises(EnvFileError) as caught:
        parse_env_file("AWS_ACCESS_KEY_ID=x\nsecret-value-without-equals\n", REQUIRED)
    assert "secret-value" not in str(caught.value)
