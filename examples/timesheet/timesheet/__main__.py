from timesheet.cli import main

raise SystemExit(main())
