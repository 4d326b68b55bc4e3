"""softco: a small software company of LLM roles. One line in, a tested git repo out."""

__version__ = "0.1.0"
