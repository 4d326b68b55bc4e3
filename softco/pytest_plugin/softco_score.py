"""The scoring pytest's entry point (``softco eval``'s hidden tests): trusted code, run as
``python -I -S -B softco_score.py CONFIG_JSON PYTEST_ARGS...`` by the sandbox venv's python.

``-I -S``: no ``PYTHON*`` variable, no site-packages, so no ``.pth`` file or ``sitecustomize`` a
dependency put in the venv runs here; ``sys.path`` is the standard library, this directory and the
directories that hold pytest (``site`` in the config: softco's own, read-only in the sandbox). The
project is NOT on it: its names are served by ``softco_remote`` from a child process. Before pytest is
imported, ``softco_results`` makes this process non-dumpable (no same-user process may ptrace it or
open its ``/proc`` files) and its results pipe close-on-exec. ``PYTHONPATH`` is set to the project for
the tests' own subprocesses (``python -m PKG`` of a CLI task)."""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    config = json.loads(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    sys.dont_write_bytecode = True
    sys.path[:] = [here, *(p for p in sys.path if p), *(str(p) for p in config.get("site", []))]
    import softco_results  # noqa: F401 - first: non-dumpable, results pipe close-on-exec

    paths = [str(p) for p in config.get("path") or [os.environ.get("SOFTCO_PROJECT", os.getcwd())]]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    import pytest
    import softco_remote

    config = {
        **config,
        "path": paths,
        "child": os.path.join(here, "softco_remote_child.py"),
    }
    softco_remote.install(config)
    return int(pytest.main(sys.argv[2:]))


if __name__ == "__main__":
    sys.exit(main())
