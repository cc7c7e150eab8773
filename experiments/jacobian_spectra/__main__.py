import sys

from experiments.jacobian_spectra import main

sys.exit(main())
