"""Speaking Kubernetes: import manifests, Compose files and node lists as a problem; export
an advised layout as manifests."""
