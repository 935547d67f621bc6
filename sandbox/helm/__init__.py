"""The sandbox `helm` executable: helm's command line over helm-python-sdk (the Helm 4 Go SDK)."""
