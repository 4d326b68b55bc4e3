"""Imported by the local backend's fork server (its preload): the imports and caches of
:mod:`softco.eval.warm`, filled once, before any worker is forked. The collector is paused meanwhile
(the imports make many objects and few cycles: about 0.15 s of the fork server's 1 s of imports went to
collecting them). Then every object made so far is frozen out of the collector's reach, so a worker's
collections do not walk (and copy, page by page, from the fork server's memory) what it inherited."""

from __future__ import annotations

import gc

enabled = gc.isenabled()
gc.disable()
try:
    from softco.eval.warm import warm

    try:
        warm()
    except Exception:  # noqa: BLE001 - a fork server that failed here would fail every run: each run does it again
        pass
finally:
    gc.freeze()
    if enabled:
        gc.enable()
