from ccpbx.cli import main

raise SystemExit(main())
