"""The SOP: role files and templates (load), checked before any call (check, check_templates, graph), the
built-in tools (tools), the bounded template sandbox (prompts, template_limits), `sop init` and the `sop` commands."""
