import sys

from orbiteos.cli import main

sys.exit(main())
