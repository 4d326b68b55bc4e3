"""What one call through softco's import proxy costs (softco/pytest_plugin/softco_remote.py): the price a
library task's hidden tests pay so that the scoring pytest never runs the project's code.

    python benchmarks/proxy_calls.py [--calls 20000] [--target-us 150]

A tiny project (``def same(x): return x``) is imported through the proxy, as the scoring pytest imports a
task's package, and ``same(i)`` is called ``--calls`` times (a call through the proxy: a request, the
child's call, an answer). Printed per call: the wall time, the CPU time of this process (the trusted
side) and of the child (read once it has ended), both user + system. Target: trusted + child CPU per
call <= ``--target-us`` microseconds; the script exits 1 on a miss. CPU time, not wall time, is the
figure to compare on a shared machine; the load is printed with it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from softco import sandbox


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--target-us", type=float, default=150.0)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("softco_remote", sandbox.PLUGIN_DIR / "softco_remote.py")
    assert spec is not None and spec.loader is not None
    remote = importlib.util.module_from_spec(spec)
    sys.modules["softco_remote"] = remote
    spec.loader.exec_module(remote)
    with tempfile.TemporaryDirectory(prefix="softco-proxy-bench-") as tmp:
        (Path(tmp) / "benchpkg").mkdir()
        (Path(tmp) / "benchpkg" / "__init__.py").write_text("def same(x):\n    return x\n", encoding="utf-8")
        child = [sys.executable, "-P", str(sandbox.PLUGIN_DIR / "softco_remote_child.py")]
        channel = remote.Channel(child, env={"PYTHONPATH": tmp, "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        finder = remote.RemoteFinder(channel, {"benchpkg"})
        module = finder.create_module(finder.find_spec("benchpkg"))
        same = module.same
        same(0)  # the child is up, the function's proxy made
        children0 = _cpu(resource.RUSAGE_CHILDREN)
        cpu0, wall0 = _cpu(resource.RUSAGE_SELF), time.perf_counter()
        for i in range(args.calls):
            same(i)
        wall = time.perf_counter() - wall0
        trusted = _cpu(resource.RUSAGE_SELF) - cpu0
        channel.close()
        child_cpu = _cpu(resource.RUSAGE_CHILDREN) - children0  # the child's whole life, start-up included
    per = 1e6 / args.calls
    total = (trusted + child_cpu) * per
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{args.calls} calls: wall {wall * per:.0f} us a call; CPU {trusted * per:.0f} us trusted + "
        f"{child_cpu * per:.0f} us child (its start-up included) = {total:.0f} us a call "
        f"(target <= {args.target_us:g} us)"
    )
    if total > args.target_us:
        print("MISSED: the proxy costs more CPU a call than the target")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
