# The hub's own fixtures (also what plugin authors get from axhub[testing]).
pytest_plugins = ["axhub.testing.fixtures"]

import os  # noqa: E402

# Providers' change notifications are off in the hub processes tests start (`axhub serve
# --sandbox` on loopback would otherwise push): each push would start a sync in the
# middle of a test about something else, as scheduled jobs would. The push tests turn
# them on (AXHUB_PUSH=auto in their hubs' environment).
os.environ.setdefault("AXHUB_PUSH", "0")
