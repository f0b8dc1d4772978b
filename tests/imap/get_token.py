"""An ``oauth2_cmd`` for the tests: print what the test's token endpoint (its one argument) answers."""

import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], data=b"", timeout=10) as reply:  # noqa: S310 - a loopback test URL
    sys.stdout.write(reply.read().decode())
