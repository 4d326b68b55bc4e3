"""Imported by the local backend's fork server (its preload): the imports and caches of
:mod:`softco.eval.warm`, filled once, before any worker is forked."""

from __future__ import annotations

from softco.eval.warm import warm

warm()
