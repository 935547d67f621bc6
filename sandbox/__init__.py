"""The local cluster double: a small Kubernetes API server, a `helm` CLI on the real Helm SDK, and stand-in
controllers, so the project's playbooks run end to end on a machine without a cluster.

Test and demo infrastructure only: never shipped in the collection, never a production target.
"""
