import sys

from experiments.sentiment import main

sys.exit(main())
