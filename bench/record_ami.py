"""Record a raw AMI byte stream from the sandbox Asterisk while real calls run.

The recording feeds ``bench/ami_ingest.py --file``. It logs in with a plain
socket (so nothing is parsed or reordered), places SIPp calls through the
carrier trunk and the dialplan fallback, and Local-channel calls, then writes
every byte received after the login response.

    .venv/bin/python bench/record_ami.py [--calls N] [--out bench/data/asterisk22-calls.ami]
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from pathlib import Path

from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings
from ccpbx.sandbox.root import ensure_runtime
from ccpbx.sandbox.sipp import caller_scenario, run_sipp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("bench/data/asterisk22-calls.ami"))
    args = parser.parse_args()
    asterisk = AsteriskInstance(ensure_runtime(), f"record-{int(time.time())}", AsteriskSettings())
    asterisk.start()
    chunks: list[bytes] = []
    try:
        s = asterisk.settings
        sock = socket.create_connection(("127.0.0.1", s.ami_port), timeout=10)
        sock.recv(100)  # banner
        sock.sendall(
            f"Action: Login\r\nUsername: {s.ami_username}\r\nSecret: {s.ami_secret}\r\n"
            "Events: on\r\n\r\n".encode()
        )
        login = b""
        while b"\r\n\r\n" not in login:
            login += sock.recv(4096)
        chunks.append(login.split(b"\r\n\r\n", 1)[1])
        stop = threading.Event()

        def read() -> None:
            sock.settimeout(0.5)
            while not stop.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                chunks.append(data)

        reader = threading.Thread(target=read)
        reader.start()
        for n in range(args.calls // 2):
            asterisk.cli(f"channel originate Local/s@ccpbx-park application Wait {1 + n % 3}")
        result = run_sipp(
            asterisk,
            caller_scenario("15550100", "Recorded Caller"),
            service="18005550100",
            calls=args.calls - args.calls // 2,
            rate=10,
            limit=40,
            timeout_s=120,
        )
        time.sleep(4)
        stop.set()
        reader.join()
        sock.close()
        print(f"sipp: {'ok' if result.ok else 'FAILED'}")
    finally:
        asterisk.stop()
        asterisk.remove()
    data = b"".join(chunks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"recorded {data.count(b'Event: ')} events, {len(data)} bytes -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
