"""The barman-cloud catalog: backup.info parsing, the recovery window, the backup a recovery uses, refusals."""

import bz2
import datetime
import gzip
import struct

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils.backup_catalog import (
    BackupInfo, CatalogError, ServerCatalog, catalog_from_scan, check_major, check_new_folder, check_source,
    choose_backup, parse_backup_info, recovery_window, split_destination, window_as_result)
from ansible_collections.mlops.mlflow.plugins.module_utils.backup_catalog_scan import (
    decompress_head, parse_wal_header, scan_server)

UTC = datetime.timezone.utc

# backup.info as barman-cloud-backup 3.19 wrote it for a real PostgreSQL 15 (paths shortened).
BACKUP_INFO = """\
backup_label='START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\\nCHECKPOINT LOCATION: 0/2000060\\n'
begin_offset=40
begin_time=2026-11-30 08:02:53.068603+00:00
begin_wal=000000010000000000000002
begin_xlog=0/2000028
children_backup_ids=None
cluster_size=23174857
compression=None
config_file=/data/postgresql.conf
copy_stats={'total_time': 3.79976, 'number_of_workers': 2}
end_offset=256
end_time=2026-11-30 08:02:53.620357+00:00
end_wal=000000010000000000000002
end_xlog=0/2000100
error=None
server_name=cloud
status=DONE
systemid=7713871947815953591
tablespaces=None
timeline=1
version=150018
"""


def at(hour, minute=0, second=0):
    return datetime.datetime(2026, 11, 20, hour, minute, second, tzinfo=UTC)


def backup(backup_id, begin, end, status="DONE", system_id="7713871947815953591"):
    return BackupInfo(backup_id, status, begin_time=begin, end_time=end, timeline=1, system_id=system_id)


def catalog(backups=(), wal_times=(), server="pg-cluster-v1", extra_objects=0, wal_system_id=None):
    return ServerCatalog(server, "s3://bucket/mlflow-pg/%s/" % server, list(backups), [], len(wal_times),
                         max(wal_times) if wal_times else None, wal_system_id,
                         object_count=len(backups) * 2 + len(wal_times) + extra_objects)


def daily():
    """Three daily backups (one failed in between) and WAL until 09:00."""
    return catalog(
        [backup("20261120T010000", at(1), at(1, 5)),
         backup("20261120T030000", at(3), None, status="FAILED"),
         backup("20261120T050000", at(5), at(5, 10)),
         backup("20261120T070000", at(7), at(7, 2))],
        wal_times=[at(1, 1), at(4), at(9)])


def test_parse_backup_info_of_a_real_backup():
    info = parse_backup_info(BACKUP_INFO, "20261130T080253")
    assert info.backup_id == "20261130T080253"
    assert info.done
    assert info.begin_time == datetime.datetime(2026, 11, 30, 8, 2, 53, 68603, tzinfo=UTC)
    assert info.end_time == datetime.datetime(2026, 11, 30, 8, 2, 53, 620357, tzinfo=UTC)
    assert (info.timeline, info.system_id, info.begin_wal) == (1, "7713871947815953591", "000000010000000000000002")
    assert info.as_result() == {"id": "20261130T080253", "begin": "2026-11-30T08:02:53.068603Z",
                                "end": "2026-11-30T08:02:53.620357Z", "timeline": 1,
                                "begin_wal": "000000010000000000000002", "end_wal": "000000010000000000000002",
                                "postgresql_major": 15, "cluster_size": 23174857}


def test_started_backup_is_not_done():
    info = parse_backup_info("backup_id=20261120T000002\nstatus=STARTED\nbegin_time=2026-11-20 00:00:02+00:00\n"
                             "end_time=None\n")
    assert info.backup_id == "20261120T000002" and not info.done


def test_unreadable_time_is_a_catalog_error():
    with pytest.raises(CatalogError, match="end_time"):
        parse_backup_info("status=DONE\nend_time=soon\n", "20261120T000002")


def test_window_uses_completed_backups_only():
    window = recovery_window(daily())
    assert window == {"first_recoverability_point": at(1, 5), "last_backup_end": at(7, 2), "last_wal_time": at(9)}
    assert window_as_result(window) == {"first_recoverability_point": "2026-11-20T01:05:00Z",
                                        "last_backup_end": "2026-11-20T07:02:00Z",
                                        "last_wal_time": "2026-11-20T09:00:00Z"}


def test_window_of_an_empty_catalog_is_unknown():
    assert recovery_window(catalog()) == dict.fromkeys(
        ("first_recoverability_point", "last_backup_end", "last_wal_time"))


@pytest.mark.parametrize("target, expected", [
    (None, "20261120T070000"),
    (at(1, 5), "20261120T010000"),
    (at(5, 9), "20261120T010000"),
    (at(5, 10), "20261120T050000"),
    (at(6), "20261120T050000"),
    (at(8, 30), "20261120T070000"),
])
def test_chosen_backup_is_the_newest_that_ends_by_the_target(target, expected):
    chosen, warnings = choose_backup(daily(), target)
    assert chosen.backup_id == expected and warnings == []


def test_an_older_backup_id_is_accepted_with_a_warning():
    chosen, warnings = choose_backup(daily(), at(8), backup_id="20261120T010000")
    assert chosen.backup_id == "20261120T070000"
    assert "will use 20261120T070000, not backup_id 20261120T010000" in warnings[0]


def test_backup_id_that_does_not_exist():
    with pytest.raises(CatalogError, match="does not exist") as error:
        choose_backup(daily(), at(8), backup_id="20261119T000000")
    assert "20261120T050000 (end 2026-11-20T05:10:00Z)" in str(error.value)


def test_backup_id_that_failed():
    with pytest.raises(CatalogError, match="status FAILED"):
        choose_backup(daily(), at(8), backup_id="20261120T030000")


def test_backup_id_that_ends_after_the_target():
    with pytest.raises(CatalogError, match="ended at 2026-11-20T07:02:00Z, after target_time 2026-11-20T06:00:00Z"):
        choose_backup(daily(), at(6), backup_id="20261120T070000")


def test_check_source_accepts_a_target_inside_the_window():
    window, chosen, warnings = check_source(daily(), at(6))
    assert chosen.backup_id == "20261120T050000" and window["last_wal_time"] == at(9) and warnings == []


@pytest.mark.parametrize("target, message", [
    (at(1, 4), "before the first recoverability point of pg-cluster-v1, 2026-11-20T01:05:00Z"),
    (at(9, 0, 1), "after the newest archived WAL of pg-cluster-v1 (archived at 2026-11-20T09:00:00Z)"),
])
def test_check_source_refuses_a_target_outside_the_window(target, message):
    with pytest.raises(CatalogError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_source(daily(), target)


def test_window_edges_are_inside():
    assert check_source(daily(), at(1, 5))[1].backup_id == "20261120T010000"
    assert check_source(daily(), at(9))[1].backup_id == "20261120T070000"


def test_no_backup_at_all():
    with pytest.raises(CatalogError, match="no completed base backup for serverName pg-cluster-v1") as error:
        check_source(catalog())
    assert "nothing is stored there" in str(error.value)


def test_only_failed_backups_are_named():
    with pytest.raises(CatalogError, match=r"not usable: 20261120T030000 \(FAILED\)"):
        check_source(catalog([backup("20261120T030000", at(3), None, status="FAILED")], [at(4)]))


def test_backups_without_wal():
    with pytest.raises(CatalogError, match="no archived WAL"):
        check_source(catalog([backup("20261120T010000", at(1), at(1, 5))]))


def test_empty_new_folder_is_fine():
    assert check_new_folder(catalog(server="pg-cluster-v2"), daily(), already_prepared=False) is False


def test_used_new_folder_is_refused():
    used = catalog(wal_times=[at(2)], server="pg-cluster-v2", wal_system_id="7713871947815953591")
    with pytest.raises(CatalogError, match="new cluster pg-cluster-v2 is not empty") as error:
        check_new_folder(used, daily(), already_prepared=False)
    assert "Expected empty archive" in str(error.value) and "1 WAL segment" in str(error.value)


def test_started_recovery_is_recognised_by_the_system_identifier():
    started = catalog(wal_times=[at(10)], server="pg-cluster-v2", wal_system_id="7713871947815953591")
    assert check_new_folder(started, daily(), True) is True


def test_prepared_values_with_a_foreign_folder_are_refused():
    foreign = catalog([backup("20261121T000000", at(10), at(10, 1), system_id="111")], [at(10)],
                      server="pg-cluster-v2")
    with pytest.raises(CatalogError, match="does not hold WAL of a cluster restored from pg-cluster-v1"):
        check_new_folder(foreign, daily(), True)


def wal_page(system_id=7713871947815953591, info=0x0002, seg_size=16 << 20, block=8192):
    header = struct.pack("<HHIQI4xQII", 0xD110, info, 1, 0x1000000, 0, system_id, seg_size, block)
    return header + bytes(8192 - len(header))


def test_wal_header_gives_the_system_identifier():
    assert parse_wal_header(wal_page()) == "7713871947815953591"


@pytest.mark.parametrize("page", [wal_page(info=0), wal_page(seg_size=12345), wal_page(block=1000), b"short"])
def test_wal_header_that_is_not_a_first_page(page):
    assert parse_wal_header(page) is None


@pytest.mark.parametrize("name, packed", [
    ("000000010000000000000001", wal_page()),
    ("mlflow-pg/pg-cluster-v2/wals/0000000200000000/000000020000000000000004", wal_page()),
    ("000000010000000000000001.gz", gzip.compress(wal_page(), mtime=0)[:200]),
    ("000000010000000000000001.bz2", bz2.compress(wal_page())),
], ids=["plain", "in-a-folder", "gzip", "bzip2"])  # stable ids: xdist workers must collect the same names
def test_heads_of_compressed_segments(name, packed):
    assert parse_wal_header(decompress_head(name, packed)) == "7713871947815953591"


def test_head_of_a_stream_that_cannot_be_read():
    assert decompress_head("000000010000000000000001.lz4", b"\x04\x22\x4d\x18") == b""
    assert decompress_head("000000010000000000000001.gz", b"not gzip") == b""


@pytest.mark.parametrize("path, expected", [
    ("s3://bucket/mlflow-pg", ("bucket", "mlflow-pg/")),
    ("s3://bucket/a/b/", ("bucket", "a/b/")),
    ("s3://bucket", ("bucket", "")),
])
def test_split_destination(path, expected):
    assert split_destination(path) == expected


def test_destination_must_be_s3():
    with pytest.raises(CatalogError, match="not an s3:// URL"):
        split_destination("https://bucket/path")


# CloudNativePG restores only into the same major (docs/src/bootstrap.md); it reads the major from the image's tag
# (pkg/postgres/version.go, GetPostgresVersionFromTag); barman records server_version_num as `version`.
@pytest.mark.parametrize("image", ["ghcr.io/cloudnative-pg/postgresql:15.10-standard-bookworm",
                                   "registry.local:5000/postgresql:15", "postgresql:15.4@sha256:" + "a" * 64])
def test_an_image_of_the_backups_major_is_accepted(image):
    assert check_major(parse_backup_info(BACKUP_INFO, "20261130T080253"), image) == []


def test_an_image_of_another_major_is_refused_naming_both():
    with pytest.raises(CatalogError) as refused:
        check_major(parse_backup_info(BACKUP_INFO, "20261130T080253"),
                    "ghcr.io/cloudnative-pg/postgresql:18.6-system-trixie")
    assert str(refused.value).startswith(
        "base backup 20261130T080253 was taken by PostgreSQL 15, and the new cluster's image "
        "ghcr.io/cloudnative-pg/postgresql:18.6-system-trixie runs PostgreSQL 18: CloudNativePG restores a backup only "
        "into the same major")
    assert "Recover with a PostgreSQL 15 image (postgresql.imageName)" in str(refused.value)


@pytest.mark.parametrize(("image", "info", "unknown"), [
    ("postgresql@sha256:" + "b" * 64, BACKUP_INFO, "names no PostgreSQL version in its tag"),
    ("postgresql:latest", BACKUP_INFO, "names no PostgreSQL version in its tag"),
    ("postgresql:17", BACKUP_INFO.replace("version=150018\n", ""), "records no server version"),
])
def test_an_unknown_major_is_a_warning_not_a_guess(image, info, unknown):
    warnings = check_major(parse_backup_info(info, "20261130T080253"), image)
    assert len(warnings) == 1 and unknown in warnings[0]


class ListingClient:
    """boto3's list_objects_v2 paginator and get_object over a dict of key -> (LastModified, body): the interface
    scan_server uses, the same on the control node and in the catalog Job."""

    def __init__(self, objects):
        self.objects = objects
        self.reads = []

    def get_paginator(self, operation):
        assert operation == "list_objects_v2"
        return self

    def paginate(self, Bucket, Prefix):  # noqa: N803 (boto3's names)
        keys = sorted(key for key in self.objects if key.startswith(Prefix))
        for start in range(0, len(keys), 2):  # pages of two, to cross page boundaries
            yield {"Contents": [{"Key": key, "LastModified": self.objects[key][0]} for key in keys[start:start + 2]]}

    def get_object(self, Bucket, Key, Range=None):  # noqa: N803
        self.reads.append((Key, Range))
        body = self.objects[Key][1]

        class Body:
            @staticmethod
            def read():
                return body
        return {"Body": Body}


def test_a_scan_summarises_a_folder_and_gives_the_same_catalog_as_its_parts():
    folder = "mlflow-pg/pg-cluster-v1/"
    client = ListingClient({
        folder + "base/20261130T080253/backup.info": (at(8, 3), BACKUP_INFO.encode()),
        folder + "base/20261130T080253/data.tar": (at(8, 3), b""),
        folder + "wals/0000000100000000/000000010000000000000003": (at(9), wal_page()),
        folder + "wals/0000000100000000/000000010000000000000002": (at(8, 30), wal_page()),
        folder + "wals/0000000100000000/000000010000000000000002.00000028.backup": (at(8, 3), b""),
        "mlflow-pg/pg-cluster-v10/wals/0000000100000000/000000010000000000000009": (at(11), wal_page()),
    })
    scan = scan_server(client, "bucket", "mlflow-pg/", "pg-cluster-v1")
    assert scan["object_count"] == 5 and scan["wal_count"] == 2
    assert scan["oldest_wal"].endswith("000000010000000000000002") and scan["wal_system_id"] is None
    assert [read[0] for read in client.reads] == [folder + "base/20261130T080253/backup.info"]
    parsed = catalog_from_scan(scan)
    assert parsed.last_wal_time == at(9) and [b.backup_id for b in parsed.done_backups] == ["20261130T080253"]
    assert parsed.done_backups[0].postgresql_major == 15


def test_a_folder_without_backups_is_known_by_the_system_identifier_of_its_oldest_segment():
    folder = "mlflow-pg/pg-cluster-v2/"
    client = ListingClient({
        folder + "wals/0000000200000000/000000020000000000000005.gz": (at(10, 1), gzip.compress(wal_page(), mtime=0)),
        folder + "wals/0000000200000000/000000020000000000000004": (at(10), wal_page(system_id=42)),
    })
    scan = scan_server(client, "bucket", "mlflow-pg/", "pg-cluster-v2")
    assert scan["wal_system_id"] == "42"
    assert client.reads == [(folder + "wals/0000000200000000/000000020000000000000004", "bytes=0-65535")]
    assert check_new_folder(catalog_from_scan(scan), catalog([backup("b", at(1), at(1, 5), system_id="42")]),
                            already_prepared=True) is True
