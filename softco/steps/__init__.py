"""One step at run time: what it reads (the board view), its prompt, the LLM step or a built-in tool (step), QA's
tools (qa_tools), dependency interfaces, approval gates and rejected answers."""
