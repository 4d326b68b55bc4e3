"""Views of a project: the terminal summary and progress lines."""
