import sys

from experiments.hopfield import main

sys.exit(main())
