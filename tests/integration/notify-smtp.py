#!/usr/bin/env python3
"""notify-smtp.py - an SMTP server for the notification tests (aiosmtpd).

Usage: notify-smtp.py PORT DIR

Accepts every message on 127.0.0.1:PORT and writes it to DIR/NNNNNN.eml:
one "X-Envelope-To: ADDRESS" line per recipient of the envelope, an
"X-Envelope-From:" line, then the message as received.  DIR/ready is
written once it listens.
"""
import os
import sys
import threading
import time

from aiosmtpd.controller import Controller

PORT = int(sys.argv[1])
DIR = sys.argv[2]
LOCK = threading.Lock()
COUNT = [0]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with LOCK:
            COUNT[0] += 1
            name = os.path.join(DIR, "%06d.eml" % COUNT[0])
        head = "".join("X-Envelope-To: %s\n" % r for r in envelope.rcpt_tos)
        head += "X-Envelope-From: %s\n" % envelope.mail_from
        data = envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        with open(name + ".tmp", "wb") as f:
            f.write(head.encode() + data)
        os.replace(name + ".tmp", name)
        return "250 OK"


os.makedirs(DIR, exist_ok=True)
# The controller's thread must be up within ready_timeout (5 s by
# default), which a busy machine can miss: give it a minute.
try:
    ctl = Controller(Handler(), hostname="127.0.0.1", port=PORT,
                     ready_timeout=60)
except TypeError:  # an aiosmtpd without the keyword
    ctl = Controller(Handler(), hostname="127.0.0.1", port=PORT)
ctl.start()
with open(os.path.join(DIR, "ready"), "w") as f:
    f.write("%d\n" % PORT)
try:
    while True:
        time.sleep(3600)
finally:
    ctl.stop()
