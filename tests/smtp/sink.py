"""A real SMTP server for Lokal's tests (aiosmtpd), on a free loopback port.

    sink.py FOLDER [--fail-first N] [--reject-rcpt TEXT]

Each message accepted is saved as FOLDER/<n>.eml (the raw message as received) with
FOLDER/<n>.rcpt beside it (the envelope recipients, one a line); the .eml appears last and
whole (written to a temporary name, then renamed), so a reader that sees it may read both.
--fail-first N answers the first N messages' DATA with "451 4.3.0 Try again later";
--reject-rcpt TEXT answers RCPT TO for an address containing TEXT with "550 5.1.1".
FOLDER/connections holds the number of SMTP connections accepted so far (replaced whole).

Prints "ready <port>" on stdout once listening; exits when its stdin closes (the test
dropped its handle) or on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import os
import signal
import sys
import threading

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, folder, fail_first, reject_rcpt):
        self.folder = folder
        self.fail_first = fail_first
        self.reject_rcpt = reject_rcpt
        self.failed = 0
        self.saved = 0
        self.connections = 0

    def connected(self):
        self.connections += 1
        path = os.path.join(self.folder, "connections")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(str(self.connections))
        os.rename(path + ".tmp", path)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_rcpt and self.reject_rcpt in address:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.failed < self.fail_first:
            self.failed += 1
            return "451 4.3.0 Try again later"
        self.saved += 1
        base = os.path.join(self.folder, str(self.saved))
        with open(base + ".rcpt", "w", encoding="utf-8") as f:
            f.write("".join(r + "\n" for r in envelope.rcpt_tos))
        raw = envelope.original_content or envelope.content
        with open(base + ".tmp", "wb") as f:
            f.write(raw)
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 Saved"


class CountingSMTP(SMTP):
    """Counts the connections it is made for (a client reusing one counts once)."""

    def connection_made(self, transport):
        self.event_handler.connected()
        super().connection_made(transport)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--reject-rcpt", default="")
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    handler = Sink(args.folder, args.fail_first, args.reject_rcpt)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(
            lambda: CountingSMTP(handler, enable_SMTPUTF8=True, hostname="sink.test"),
            host="127.0.0.1",
            port=0,
        )
    )
    port = server.sockets[0].getsockname()[1]

    def stop(*_):
        loop.call_soon_threadsafe(loop.stop)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)

    def watch_stdin():
        sys.stdin.read()
        stop()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"ready {port}", flush=True)
    loop.run_forever()
    server.close()


if __name__ == "__main__":
    main()
