"""Reporters turn core results into text, JSON, JUnit, markdown; the core never prints."""
