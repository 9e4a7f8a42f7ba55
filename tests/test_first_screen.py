"""What `axhub serve` prints once it listens: addresses, database, plugins and, in
sandbox mode, a token and a curl line that work as printed."""

import os
import shlex
import subprocess
import time

from axhub.testing import free_port
from axhub.testing.processes import Processes


def first_screen(tmp_path, new_database, *args, extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("AXHUB_SANDBOX", "AXHUB_PUBLIC_URL", "AXHUB_LOG_LEVEL")}
    env.update(AXHUB_DATA_DIR=str(tmp_path / "data"), AXHUB_DATABASE_URL=new_database(), AXHUB_SCHEDULER="0", **(extra or {}))
    procs = Processes(env)
    procs.env = env
    log = tmp_path / "serve.log"
    port = free_port()
    procs.serve(port, *args, log=log)
    # The screen comes once the socket listens, which serve() waited for; its last line
    # ends it (log lines, such as the access line of serve()'s probe, may come around it).
    deadline = time.monotonic() + 30
    while not any(line.endswith(("checks the set-up.", "Attendance-X back end")) for line in log.read_text().splitlines()):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return procs, port, log.read_text()


def test_the_sandbox_first_screen_leads_to_a_working_call(tmp_path, new_database):
    procs, port, screen = first_screen(tmp_path, new_database, "--sandbox")
    try:
        base = f"http://127.0.0.1:{port}"
        for expected in (f"axhub is listening on {base}", f"console   {base}/console", f"OpenAPI   {base}/schema",
                         "database  ", "google", "webhooks", f"sandboxes at {base}/sandbox", "TOKEN=ey"):
            assert expected in screen, screen
        assert "alembic" not in screen.lower()  # migration chatter is debug detail
        curl = [line.strip() for line in screen.splitlines() if line.strip().startswith("curl ")]
        assert len(curl) == 1
        out = subprocess.run(shlex.split(curl[0]), capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and out.stdout.startswith('{"success":true'), out.stdout
    finally:
        procs.close()


def test_a_real_provider_hub_prints_no_token(tmp_path, new_database):
    procs, port, screen = first_screen(tmp_path, new_database, extra={"AXHUB_PLUGINS": "webhooks"})
    try:
        assert f"axhub is listening on http://127.0.0.1:{port}" in screen
        assert "plugins   webhooks" in screen
        assert "TOKEN=" not in screen and "curl" not in screen
    finally:
        procs.close()
