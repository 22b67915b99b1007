import sys

from promptctl.cli import main

sys.exit(main())
