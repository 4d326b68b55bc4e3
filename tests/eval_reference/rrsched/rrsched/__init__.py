"""Round-robin scheduling of jobs that all arrive at time 0."""

from collections import deque


def round_robin(jobs: list[tuple[str, int]], quantum: int) -> list[tuple[str, int]]:
    if quantum < 1:
        raise ValueError("the quantum must be at least 1")
    if any(burst < 1 for _, burst in jobs):
        raise ValueError("every burst must be at least 1")
    queue = deque(jobs)
    clock = 0
    done = []
    while queue:
        name, left = queue.popleft()
        ran = min(quantum, left)
        clock += ran
        if left > ran:
            queue.append((name, left - ran))
        else:
            done.append((name, clock))
    return done
