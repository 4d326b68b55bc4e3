"""The LLM boundary and its providers."""
