"""The project: promptctl.yaml, safe YAML, field checks, scaffolding, editor schemas."""
