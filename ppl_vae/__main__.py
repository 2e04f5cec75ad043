import sys

from ppl_vae.cli import main

sys.exit(main())
