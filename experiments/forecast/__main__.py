import sys

from experiments.forecast import main

sys.exit(main())
