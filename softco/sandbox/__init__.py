"""Runs generated code: its own venv, resource limits, a scrubbed environment, isolation.

Generated code is untrusted. It runs in a subprocess whose environment holds no API keys or other
secrets (it is built from nothing, not filtered), with a temporary HOME (also its TMPDIR), CPU /
memory / file-size / process limits and a wall-time limit. It never runs in the project itself: it
runs in a **work copy** of the project's files (``.git`` and ``.softco`` left out), so nothing it
writes reaches the project, and every file it leaves behind is gone when the run ends. When softco
runs as root, the generated code runs as the unprivileged user ``nobody`` (uid 65534), so files only
root may read (``/etc/shadow``, root's keys) stay closed to it. What it reports about its tests comes
back through a pipe held open by softco, never through a file it could replace.

On top of that it is isolated by the best mechanism this machine offers, probed once per process:

``bwrap``
    bubblewrap. The whole filesystem is read-only; ``/home``, ``/root``, ``/run``, ``/tmp``,
    ``/var/tmp``, ``/mnt``, ``/media``, ``/srv`` and the user's home are replaced by empty read-only
    directories (so ``~/.ssh`` or a Docker socket are not even visible), with only the Python runtime
    put back, read-only; so are the directory that holds the project (its sibling projects are not
    visible), every other top-level directory that is not the system's own (``/work``, ``/data``...: other
    outputs, checkouts, ``.env`` files) and the outermost directory below the system's own on the way to
    the project and to the working directory (``/opt/evals``). The work copy (at the project's own path) and
    the temporary HOME are size-limited tmpfs mounts (:attr:`Limits.disk_bytes` each): a disk quota. Own
    network (empty), PID, IPC and UTS namespaces, no capabilities, killed with its parent.
``unshare``
    util-linux ``unshare`` with mount, PID, network, IPC and UTS namespaces (and a user namespace
    unless softco is root), and a small Python preamble that hides the same directories as bwrap,
    puts the same two size-limited tmpfs mounts in place, remounts every other mount read-only, then
    drops all capabilities.
``netns``
    ``unshare`` with a network namespace only: no network, no filesystem isolation, no disk quota.
``none``
    limits, the scrubbed environment and the work copy only.

Processes: the sandbox lives in its own PID namespace (``bwrap``, ``unshare``), so when its first
process ends or the wall-time limit kills it, the kernel kills every process in it, including
daemonised ones. ``RLIMIT_NPROC`` does not apply to root, so when softco runs as root the process
count is capped with a pids cgroup where one is writable (which also kills every straggler at the
end). Memory: ``RLIMIT_AS`` limits each process; as root, a memory cgroup (where one is writable)
also caps all of them together, swap included (:attr:`SandboxResult.memory_limit` says which).
Output: only the last :data:`OUTPUT_LIMIT` bytes of what the code prints are kept.
Whatever is missing on this machine is said in :attr:`SandboxResult.warnings`.

Dependencies are installed by :func:`ensure_venv` with softco's own pip, isolated (``-I``), wheels
only, from a list of plain PEP 508 requirements (:mod:`softco.dependencies`), inside the sandbox with
the network on and only the venv writable: no code of a dependency runs while it is installed.
"""

from softco.sandbox.layout import (
    HIDDEN,
    MECHANISMS,
    NOBODY,
    PLUGIN_DIR,
    PROVIDES,
    Isolation,
    SandboxError,
    clean_env,
    hide,
)
from softco.sandbox.layout import _host_site_dirs as host_site_dirs
from softco.sandbox.limits import Limits, memory_limit, process_limit
from softco.sandbox.runner import (
    OUTPUT_LIMIT,
    RESULTS_LIMIT,
    SandboxResult,
    available,
    best,
    describe,
    run,
    works,
)
from softco.sandbox.scripts import PREAMBLE_FAILED
from softco.sandbox.venv import ensure_venv, install

__all__ = [
    "HIDDEN",
    "MECHANISMS",
    "NOBODY",
    "OUTPUT_LIMIT",
    "PLUGIN_DIR",
    "PREAMBLE_FAILED",
    "PROVIDES",
    "RESULTS_LIMIT",
    "Isolation",
    "Limits",
    "SandboxError",
    "SandboxResult",
    "available",
    "best",
    "clean_env",
    "describe",
    "ensure_venv",
    "hide",
    "host_site_dirs",
    "install",
    "memory_limit",
    "process_limit",
    "run",
    "works",
]
