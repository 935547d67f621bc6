"""The PostgreSQL fixtures run real servers as `postgres`, several at once."""


def test_query_and_several_instances(pg_factory):
    first, second = pg_factory(), pg_factory()
    assert first.port != second.port
    first.sql("CREATE TABLE t (v int)")
    first.sql("INSERT INTO t VALUES (42)")
    assert first.sql("SELECT v FROM t") == [(42,)]
    assert second.sql("SELECT count(*) FROM pg_tables WHERE tablename = 't'") == [(0,)]
    assert first.sql("SHOW server_version")[0][0].startswith("15.")


def test_owner_and_uri(pg):
    uri = pg.create_database("tracking", owner="app", password="p%40ss:w/rd")
    assert uri.startswith("postgresql://app:p%2540ss%3Aw%2Frd@127.0.0.1:")
    assert pg.sql("SELECT datdba::regrole::text FROM pg_database WHERE datname = 'tracking'") == [("app",)]


def test_stop_ends_the_server(pg_factory):
    instance = pg_factory()
    assert instance.is_running()
    instance.stop()
    assert not instance.is_running()
