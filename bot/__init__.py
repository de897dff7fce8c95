"""Member hotline bot: FAQ answers, emergency hotline requests, escalation and digests."""

import os

# The embedding model's matrix products are small: on a server's few cores, BLAS threads
# contend with the event loop and each other more than they help. One per process, unless the
# environment says otherwise (this must be set before numpy is first imported).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
