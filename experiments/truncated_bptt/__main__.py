import sys

from experiments.truncated_bptt import main

sys.exit(main())
