"""Version normalisation (-e mlflow_tag=3.5.0 or v3.5.0) and upgrade notes."""

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_version import (
    VersionError, image_tag, normalise_version, upgrade_notes)


@pytest.mark.parametrize("text, expected", [("3.5.0", "3.5.0"), ("v3.5.0", "3.5.0"), (" 3.17.2 ", "3.17.2")])
def test_accepts_both_spellings(text, expected):
    assert normalise_version(text) == expected
    assert image_tag(text) == "v" + expected


@pytest.mark.parametrize("text", ["latest", "3.5", "V3.5.0", "3.5.0rc1", "vv3.5.0", "3.5.0-full", ""])
def test_refuses_what_is_not_a_release(text):
    with pytest.raises(VersionError, match="for example 3.5.0"):
        normalise_version(text)


def test_notes_for_a_major_upgrade_past_3_16():
    notes = upgrade_notes("2.22.5", "3.17.2")
    assert any("Major version change 2.x -> 3.x" in note for note in notes)
    assert any("password1234" in note for note in notes)


def test_no_notes_for_a_patch_upgrade():
    assert upgrade_notes("3.4.0", "3.5.0") == []


def test_downgrade_is_called_out():
    assert "cannot be downgraded" in upgrade_notes("3.5.0", "3.4.0")[0]
