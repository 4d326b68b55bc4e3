"""`softco serve`: watch and steer running companies in the browser (Starlette + uvicorn, server-sent events).

``data`` reads boards through read-only SQLite connections (WAL: a reader never blocks the run); ``app`` is the
ASGI app (security checks, pages, live updates, steering); ``server`` starts it. Needs the ``web`` extra.
"""
