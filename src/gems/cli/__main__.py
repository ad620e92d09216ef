"""``python -m gems.cli``: the same as the ``gems`` command."""

import sys

from gems.cli import main

sys.exit(main())
