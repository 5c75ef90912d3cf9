"""``python -m medbench`` is the same as the ``medbench`` command."""

from medbench.cli import main

raise SystemExit(main())
