import sys

from rbk.cli import main

sys.exit(main())
