from sen2val_stac.cli import main

raise SystemExit(main())
