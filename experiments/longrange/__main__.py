import sys

from experiments.longrange import main

sys.exit(main())
