from loomline.cli import main

raise SystemExit(main())
