"""NAME[@REF] -> Prompt: the working tree, a version, a label or a git revision.

Apart from loader.py because a reference may need history (history/revisions.py reads prompt
files at a revision through the loader): loader <- revisions <- refs, no cycle.
"""

from __future__ import annotations

from promptctl.project.config import Project
from promptctl.prompts.loader import (
    VERSION_RE,
    load_prompt_file,
    prompt_files,
    split_ref,
    unknown_prompt,
)
from promptctl.prompts.prompt import Prompt


def resolve(ref: str, project: Project) -> Prompt:
    """NAME, NAME@<12-hex version>, NAME@<label> or NAME@<git rev> -> Prompt."""
    name, rev = split_ref(ref)
    files = prompt_files(project)
    if rev is None:
        if name not in files:
            raise unknown_prompt(project, name)
        return load_prompt_file(project, files[name])
    if name in files and VERSION_RE.match(rev):
        current = load_prompt_file(project, files[name])
        if current.version == rev:
            return current
    from promptctl.history import revisions as history

    return history.resolve_rev(project, name, rev, in_tree=name in files)
