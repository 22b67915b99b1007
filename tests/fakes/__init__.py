"""Fakes for tests: a loopback LLM server (llm_server.py)."""
