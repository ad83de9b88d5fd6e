"""An SMTP server for Tenpo's tests: aiosmtpd on a free port of 127.0.0.1 that writes every
message it accepts to DIR as <n>.eml and prints "listening on <port>" once it listens.

    python3 smtp_sink.py DIR [--fail-first N]

--fail-first N answers the first N messages with 451 (a temporary failure), so retries can
be tested.
"""

import asyncio
import os
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory, fail_first):
        self.directory = directory
        self.fail_first = fail_first
        self.seen = 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        if self.seen <= self.fail_first:
            return "451 4.3.0 try again later"
        name = os.path.join(self.directory, "%06d.eml" % self.seen)
        with open(name + ".part", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".part", name)
        return "250 OK"


async def main():
    directory = sys.argv[1]
    fail_first = int(sys.argv[sys.argv.index("--fail-first") + 1]) if "--fail-first" in sys.argv else 0
    os.makedirs(directory, exist_ok=True)
    sink = Sink(directory, fail_first)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink, enable_SMTPUTF8=True), "127.0.0.1", 0)
    print("listening on %d" % server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


asyncio.run(main())
