import sys

from rpncalc import main

raise SystemExit(main(sys.argv[1:]))
