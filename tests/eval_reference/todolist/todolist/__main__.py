import sys

from todolist import main

sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
raise SystemExit(main())
