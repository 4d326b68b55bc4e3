"""softco's default company, shipped inside the package as data: found here and nowhere else.

``roles/`` (one YAML file per role), ``sop_templates/`` (their Jinja2 prompts) and ``examples/``
(complete SOP directories for ``softco sop init --example NAME``). A user's ``--sop DIR`` is laid
over these (see :func:`softco.sop.load.load_sop`).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ROLES_DIR = HERE / "roles"
TEMPLATES_DIR = HERE / "sop_templates"
EXAMPLES_DIR = HERE / "examples"
