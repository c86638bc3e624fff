from celerylint.cli import main

raise SystemExit(main())
