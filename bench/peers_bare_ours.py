"""Not a baseline: the bare peer's app (``peers_bare.app``) served the way ``twoshot serve``
serves (``twoshot.serving.uvicorn_config``: its connection protocol, with the head deadline
and the coalesced writes). Beside the bare app on stock uvicorn, it splits twoshot's figure
into what its server layer gives and what its app costs.

    python peers_bare_ours.py PORT
"""

from __future__ import annotations

import sys

import uvicorn
from peers_bare import app

from twoshot.config import Settings
from twoshot.serving import uvicorn_config

if __name__ == "__main__":
    port = int(sys.argv[1])
    uvicorn.Server(uvicorn_config(app, Settings(), "127.0.0.1", port, "warning")).run()
