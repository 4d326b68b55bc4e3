import sys

from logstats import main

raise SystemExit(main(sys.argv[1:]))
