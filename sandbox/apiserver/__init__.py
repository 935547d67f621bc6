"""The sandbox's Kubernetes API server: discovery, OpenAPI v3, CRUD, patches, server-side apply, subresources,
selectors and watch, with every write validated against the real schemas."""
