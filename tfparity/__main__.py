import sys

from tfparity.cli import main

sys.exit(main())
