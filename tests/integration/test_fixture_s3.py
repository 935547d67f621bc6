"""The S3 fixture is a real S3 API (moto server) on loopback."""


def test_s3_round_trip(s3_server, s3_bucket):
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="dir/hello.txt", Body=b"hello")
    assert client.get_object(Bucket=s3_bucket, Key="dir/hello.txt")["Body"].read() == b"hello"
    assert s3_server.list_keys(s3_bucket, "dir/") == ["dir/hello.txt"]
    assert s3_server.endpoint_url.startswith("http://127.0.0.1:")
