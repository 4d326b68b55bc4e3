"""Imported by the local backend's fork server (its preload): the imports and caches of
:mod:`softco.eval.warm`, filled once, before any worker is forked. Then every object made so far is
frozen out of the garbage collector's reach, so a worker's collections do not walk (and copy, page by
page, from the fork server's memory) what it inherited."""

from __future__ import annotations

import gc

from softco.eval.warm import warm

try:
    warm()
except Exception:  # noqa: BLE001 - a fork server that failed here would fail every run: each run does it again
    pass
gc.freeze()
