"""``python -m helpline.ingest.cli``: the same entry point as the ``helpline`` script."""

from helpline.ingest.cli.main import main

raise SystemExit(main())
