"""The company: scheduling steps (scheduler), publishing their artifacts to the board and git (publisher),
the generated repo (workspace, scaffold), the project lock, and starting, resuming and revising runs (run)."""
