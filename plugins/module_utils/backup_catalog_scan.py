# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read one barman-cloud server folder in S3 into a small JSON summary: the only code that talks to the store.

It runs in two places with the same result: in the module on the control node, and, for a store reachable only
from inside the cluster, in a Job with the MLflow image (`backup_catalog_job.catalog_program()` ships this file's
source, which is why it uses the standard library and an S3 client only). `backup_catalog.catalog_from_scan` turns
the summary into the catalog the recovery checks use.

Layout written by barman-cloud (what the CNPG Barman Cloud Plugin runs):
`<destinationPath>/<serverName>/base/<backupId>/backup.info` (+ data.tar[.gz]) and
`<destinationPath>/<serverName>/wals/<timeline+log>/<segment>[.gz|.bz2|...]`. A summary keeps every backup.info and,
of the WAL, what the checks need: how many segments, the newest LastModified (the end of the recovery window) and,
for a folder without backup.info, the system identifier in its oldest segment (whose cluster archived there).
"""

from __future__ import annotations

import bz2
import lzma
import re
import struct
import zlib

# barman-cloud-wal-archive names: a 24-hex-digit segment, optionally `.partial`, optionally compressed.
WAL_SEGMENT = re.compile(r"^[0-9A-F]{24}(\.partial)?(\.(gz|bz2|xz|lz4|snappy|zst))?$")
_BACKUP_INFO_KEY = re.compile(r"^base/(?P<id>[^/]+)/backup\.info$")
# XLogLongPageHeaderData at the start of every WAL segment: magic, info, timeline, page address, remaining length,
# padding, then the system identifier, segment size and block size (little-endian on the platforms CNPG runs).
_WAL_LONG_HEADER = struct.Struct("<HHIQI4xQII")
_XLP_LONG_HEADER = 0x0002
_WAL_HEADER_BYTES = _WAL_LONG_HEADER.size
# 64 KiB of a compressed segment is plenty for its first page; an uncompressed one needs 40 bytes.
_WAL_HEAD_RANGE = "bytes=0-65535"


def parse_wal_header(data: bytes):
    """The system identifier (decimal string, as backup.info writes it) from a WAL segment's first page, or None."""
    if len(data) < _WAL_HEADER_BYTES:
        return None
    _magic, info, _tli, _pageaddr, _rem, system_id, seg_size, block_size = _WAL_LONG_HEADER.unpack_from(data)
    if not info & _XLP_LONG_HEADER or seg_size & (seg_size - 1) or not (1 << 20) <= seg_size <= (1 << 30):
        return None
    if block_size not in (1024, 2048, 4096, 8192, 16384, 32768) or not system_id:
        return None
    return str(system_id)


def decompress_head(name: str, data: bytes) -> bytes:
    """The first bytes of a (possibly compressed) WAL object; empty when the compression cannot be streamed."""
    name = name.rsplit("/", 1)[-1]
    try:
        if name.endswith(".gz"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, _WAL_HEADER_BYTES)
        if name.endswith(".bz2"):
            return bz2.BZ2Decompressor().decompress(data, _WAL_HEADER_BYTES)
        if name.endswith(".xz"):
            return lzma.LZMADecompressor().decompress(data, _WAL_HEADER_BYTES)
    except (zlib.error, OSError, EOFError, lzma.LZMAError):
        return b""
    if WAL_SEGMENT.match(name) and not name.endswith((".lz4", ".snappy", ".zst")):
        return data
    return b""


def _timestamp(value) -> str | None:
    """LastModified as RFC 3339 text (boto3 gives an aware datetime)."""
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def scan_server(client, bucket: str, prefix: str, server_name: str) -> dict:
    """List `<prefix><server_name>/` in `bucket` with an S3 client (boto3's interface) and summarise it."""
    folder = "%s%s/" % (prefix, server_name)
    backup_keys, newest_wal, oldest_wal, wal_count, count = [], None, None, 0, 0
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=folder):
        for item in page.get("Contents", []):
            count += 1
            relative = item["Key"][len(folder):]
            info = _BACKUP_INFO_KEY.match(relative)
            if info:
                backup_keys.append((info.group("id"), item["Key"]))
            elif relative.startswith("wals/") and WAL_SEGMENT.match(relative.rsplit("/", 1)[-1]):
                wal_count += 1
                modified = item.get("LastModified")
                if modified is not None and (newest_wal is None or modified > newest_wal):
                    newest_wal = modified
                if oldest_wal is None or item["Key"].rsplit("/", 1)[-1] < oldest_wal.rsplit("/", 1)[-1]:
                    oldest_wal = item["Key"]
    backup_infos = []
    for backup_id, key in sorted(backup_keys):
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        backup_infos.append([backup_id, body.decode("utf-8", errors="replace")])
    wal_system_id = None
    if oldest_wal is not None and not backup_infos:
        head = client.get_object(Bucket=bucket, Key=oldest_wal, Range=_WAL_HEAD_RANGE)["Body"].read()
        wal_system_id = parse_wal_header(decompress_head(oldest_wal, head))
    return {
        "server_name": server_name,
        "location": "s3://%s/%s" % (bucket, folder),
        "object_count": count,
        "backup_infos": backup_infos,
        "wal_count": wal_count,
        "last_wal_time": _timestamp(newest_wal),
        "oldest_wal": oldest_wal,
        "wal_system_id": wal_system_id,
    }
