import sys

from experiments.caption import main

sys.exit(main())
