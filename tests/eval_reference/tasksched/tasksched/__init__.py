"""Order tasks after their dependencies, alphabetically among the ready ones."""

import heapq


def order(tasks: dict[str, list[str]]) -> list[str]:
    waiting = {name: set(deps) for name, deps in tasks.items()}
    users: dict[str, list[str]] = {name: [] for name in tasks}
    for name, deps in waiting.items():
        for dep in deps:
            if dep not in tasks:
                raise ValueError(f"{name} depends on unknown task {dep}")
            users[dep].append(name)
    ready = [name for name, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    out = []
    while ready:
        name = heapq.heappop(ready)
        out.append(name)
        for user in users[name]:
            waiting[user].discard(name)
            if not waiting[user]:
                heapq.heappush(ready, user)
    if len(out) != len(tasks):
        raise ValueError("the dependencies contain a cycle")
    return out
