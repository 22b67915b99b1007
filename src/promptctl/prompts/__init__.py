"""Prompts: loading, versions, rendering in the sandbox, validation."""
