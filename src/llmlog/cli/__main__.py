"""``python -m llmlog.cli``: the same as the ``llmlog`` command."""

import sys

from llmlog.cli import main

sys.exit(main())
