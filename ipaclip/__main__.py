"""``python -m ipaclip`` (and ``torchrun -m ipaclip fit ...``): the command line."""

import sys

from ipaclip.cli import main

sys.exit(main())
