"""Git history: the one git module, prompts at revisions, diffs and changes."""
