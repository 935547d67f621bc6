"""Real components for the tests: PostgreSQL, an S3 server, barman-cloud and MLflow, started on loopback."""
