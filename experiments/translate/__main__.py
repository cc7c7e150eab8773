import sys

from experiments.translate import main

sys.exit(main())
