from unitconv import main

raise SystemExit(main())
