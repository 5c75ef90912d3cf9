"""``python -m benchmark`` is the same as the ``medbench`` command."""

from benchmark.cli import main

raise SystemExit(main())
