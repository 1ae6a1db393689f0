#!/usr/bin/python3
"""An AMQP consumer aliot did not write (python3-qpid-proton), for aliot's tests and bench.

Signs the SASL PLAIN user name of the platform's server-side subscription itself (spec section 7,
from the documented formula) and prints one JSON line per message:
{"topic", "message_id", "generate_time", "payload"}; exits 0 after --count messages, 4 when the
server refuses the login, 5 on another connection error, 6 when --wait passes.

Usage: py_consumer.py --url amqps://localhost:PORT --ca CA --ak ID --secret S --group G
                      [--count N] [--wait S] [--bad-signature] [--quiet] [--hold]
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import time

from proton import SSLDomain
from proton.handlers import MessagingHandler
from proton.reactor import Container


class Consumer(MessagingHandler):
    def __init__(self, a):
        super().__init__(prefetch=0, auto_accept=False)
        self.a = a
        self.got = 0
        self.rc = None
        self.started = time.monotonic()

    def on_start(self, event):
        a = self.a
        ts = str(int(time.time() * 1000))
        user = (f"{a.client_id}|authMode=aksign,signMethod=hmacsha1,timestamp={ts},"
                f"authId={a.ak},consumerGroupId={a.group}|")
        secret = a.secret + ("x" if a.bad_signature else "")
        sig = hmac.new(secret.encode(), f"authId={a.ak}&timestamp={ts}".encode(),
                       hashlib.sha1).digest()
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        domain.set_trusted_ca_db(a.ca)
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
        self.conn = event.container.connect(
            a.url, user=user, password=base64.b64encode(sig).decode(),
            allowed_mechs="PLAIN", ssl_domain=domain, heartbeat=60, reconnect=False)
        self.receiver = event.container.create_receiver(self.conn, None)
        self.receiver.flow(min(a.count, 500) if a.count else 500)
        if a.wait:
            event.container.schedule(a.wait, self)

    def on_timer_task(self, event):
        if self.rc is None:
            self.finish(6)

    def on_message(self, event):
        if self.rc is not None:
            return
        m = event.message
        p = m.properties or {}
        body = m.body if isinstance(m.body, (bytes, bytearray)) else str(m.body).encode()
        if not self.a.quiet:
            print(json.dumps({"topic": p.get("topic"), "message_id": p.get("messageId"),
                              "generate_time": p.get("generateTime"),
                              "payload": body.decode("utf-8", "replace")}), flush=True)
        if self.a.hold:
            return  # never settles: the test kills this consumer
        self.accept(event.delivery)
        self.got += 1
        if self.a.count and self.got >= self.a.count:
            self.finish(0)
        else:
            # Credit in batches (as aliot does), never beyond --count.
            credit = self.receiver.credit
            room = (self.a.count - self.got - credit) if self.a.count else 500
            if credit < 250 and room > 0:
                self.receiver.flow(min(500 - credit, room))

    def finish(self, rc):
        self.rc = rc
        self.conn.close()

    def on_transport_error(self, event):
        cond = event.transport.condition
        if self.rc is None:
            self.rc = 4 if cond and cond.name == "amqp:unauthorized-access" else 5
            print(f"py_consumer: {cond.name if cond else ''}: "
                  f"{cond.description if cond else ''}", file=sys.stderr)
        event.container.stop()

    def on_connection_error(self, event):
        cond = event.connection.remote_condition
        if self.rc is None:
            self.rc = 4 if cond and cond.name == "amqp:unauthorized-access" else 5
        event.container.stop()

    def on_connection_closed(self, event):
        event.container.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--ak", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--client-id", default="py-consumer")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--wait", type=float, default=0)
    ap.add_argument("--bad-signature", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--hold", action="store_true", help="print messages but never accept them")
    a = ap.parse_args()
    c = Consumer(a)
    Container(c).run()
    sys.exit(c.rc if c.rc is not None else 5)


if __name__ == "__main__":
    main()
