import sys

from experiments.parallel import main

sys.exit(main())
