import sys

from experiments.char_lm import main

sys.exit(main())
