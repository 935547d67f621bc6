# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm values files edited in place: a ruamel.yaml round trip that keeps comments, key order, quoting and the
file's own indentation, so a reviewer's diff shows only the values that were set."""

from __future__ import annotations

import datetime
import io
import re
import traceback

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

try:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
    from ruamel.yaml.util import load_yaml_guess_indent
    HAS_RUAMEL = True
    RUAMEL_IMPORT_ERROR = None
except ImportError:
    HAS_RUAMEL = False
    RUAMEL_IMPORT_ERROR = traceback.format_exc()

_KEY_LINE = re.compile(r"^(?P<indent> *)(?!- )(?!#)[^\s].*?:(\s|$)")


class ValuesFileError(CollectionError, ValueError):
    """A values file that cannot be read or edited."""


def detect_indentation(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) as ruamel.yaml's `indent()` takes them, guessed from the file itself.

    The block sequence style (sequence, offset) is ruamel.yaml's own guess, `load_yaml_guess_indent`; it gives the
    mapping indentation only for a file without sequences, so that one is the smallest indentation of a nested
    key here. Defaults are the chart's own style (2, 4, 2). Raises YAMLError for a file that is not YAML.
    """
    _data, sequence, offset = load_yaml_guess_indent(text)
    nested = [len(match.group("indent")) for match in map(_KEY_LINE.match, text.splitlines()) if match]
    mapping = min((indent for indent in nested if indent), default=2)
    if offset is None or offset < 0:
        sequence, offset = 4, 2
    return mapping, sequence, offset


class ValuesDocument:
    """One values file: `plain()` gives the data as plain Python, `set()` edits one dotted key, `dump()` the text."""

    def __init__(self, text: str, source: str = "the values file") -> None:
        if not HAS_RUAMEL:
            raise ValuesFileError("ruamel.yaml is required to edit %s" % source)
        self.source = source
        self._yaml = YAML(typ="rt")
        self._yaml.preserve_quotes = True
        self._yaml.width = 4096  # never re-wrap long lines that were not touched
        try:
            mapping, sequence, offset = detect_indentation(text)
            self._yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
            data = self._yaml.load(text)
        except YAMLError as exc:
            raise ValuesFileError("%s is not valid YAML: %s" % (source, exc)) from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, dict):
            raise ValuesFileError("%s must hold a mapping of Helm values, not a %s." % (source, type(data).__name__))
        self.data = data
        self._explicit_start = text.lstrip().startswith("---")

    def plain(self) -> dict:
        return to_plain(self.data)

    def set(self, dotted_key: str, value, quote: bool = False) -> None:
        """Set `dotted_key`, creating missing mappings; a replaced string keeps its quote style, and `quote`
        double-quotes a new string (for values that a YAML 1.1 reader would otherwise take for a timestamp)."""
        parts = dotted_key.split(".")
        node = self.data
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = CommentedMap()
                node[part] = child
            elif not isinstance(child, dict):
                raise ValuesFileError("%s: %s is a %s, but a mapping is needed to set %s." % (
                    self.source, ".".join(parts[:depth + 1]), type(child).__name__, dotted_key))
            node = child
        old = node.get(parts[-1])
        if isinstance(value, str):
            if isinstance(old, SingleQuotedScalarString):
                value = SingleQuotedScalarString(value)
            elif isinstance(old, DoubleQuotedScalarString) or quote:
                value = DoubleQuotedScalarString(value)
        node[parts[-1]] = value

    def dump(self) -> str:
        stream = io.StringIO()
        self._yaml.explicit_start = self._explicit_start
        self._yaml.dump(self.data, stream)
        return stream.getvalue()


def to_plain(node):
    """ruamel's round-trip types as plain dict/list/str/int/float/bool (timestamps as ISO 8601 strings)."""
    if isinstance(node, dict):
        return {str(key): to_plain(value) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return [to_plain(item) for item in node]
    if isinstance(node, bool) or type(node).__name__ == "ScalarBoolean":
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, (datetime.datetime, datetime.date)):
        return node.isoformat()
    return node
