"""`python -m hsc_infer.demo ...`: runs the demo (`hsc_infer.demo.app.main`)."""

import sys

from hsc_infer.demo.app import main

if __name__ == "__main__":
    sys.exit(main())
