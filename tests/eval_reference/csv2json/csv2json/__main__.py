import sys

from csv2json import main

raise SystemExit(main(sys.argv[1:]))
