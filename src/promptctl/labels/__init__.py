"""labels.yaml: the store, promotion and rollback, deploy bundles."""
