from wordfreq import main

raise SystemExit(main())
