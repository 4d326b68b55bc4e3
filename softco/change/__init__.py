"""`softco change REPO "REQUIREMENT"`: the company at work on an existing repository.

The user's checkout is never touched: the run works in a git worktree on a new branch ``softco/<slug>``
that lives under the repo's git dir (:mod:`softco.change.repo`). The model reads the repo through a map
built with ``ast`` within a token budget (:mod:`softco.change.repo_map`), edits existing files with
SEARCH/REPLACE blocks applied all-or-nothing (:mod:`softco.change.edits`), and QA runs the repo's own
tests next to the new ones, reporting a test that passed before and fails after as a regression
(:mod:`softco.change.mode`).
"""
