#!/usr/bin/env python3
"""A minimal MQTT 3.1.1 device for the emulator tests (raw sockets, no library): logs in,
subscribes one filter and answers every request on the same connection.

usage: rrpc_device.py HOST PORT CLIENT_ID USERNAME PASSWORD FILTER REPLY_PREFIX
System RRPC requests (/sys/.../rrpc/request/<id>) are answered on .../rrpc/response/<id>,
custom ones (/ext/rrpc/<id>/...) on the request topic itself; the reply is REPLY_PREFIX + request.
REPLY_PREFIX "-" means never answer. Prints "SUBACK <code>" once subscribed.
"""
import socket
import struct
import sys


def mqtt_str(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def packet(first, body):
    n = len(body)
    rl = b""
    while True:
        d = n % 128
        n //= 128
        rl += bytes([d | (0x80 if n else 0)])
        if not n:
            break
    return bytes([first]) + rl + body


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            sys.exit(0)
        out += chunk
    return out


def read_packet(s):
    first = recv_exact(s, 1)[0]
    mult, n = 1, 0
    while True:
        d = recv_exact(s, 1)[0]
        n += (d & 127) * mult
        mult *= 128
        if not d & 128:
            break
    return first, recv_exact(s, n)


def main(a):
    host, port, cid, user, pw, flt, prefix = a[1:8]
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = mqtt_str("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 60)
    body += mqtt_str(cid) + mqtt_str(user) + mqtt_str(pw)
    s.sendall(packet(0x10, body))
    t, b = read_packet(s)
    if t >> 4 != 2 or b[1] != 0:
        print("CONNACK %d" % b[1], flush=True)
        return 1
    s.sendall(packet(0x82, struct.pack("!H", 1) + mqtt_str(flt) + b"\x00"))
    while True:
        t, b = read_packet(s)
        if t >> 4 == 9:
            print("SUBACK %d" % b[2], flush=True)
            continue
        if t >> 4 != 3:
            continue
        qos = (t >> 1) & 3
        tl = struct.unpack("!H", b[:2])[0]
        topic = b[2:2 + tl].decode()
        pos = 2 + tl
        if qos:
            s.sendall(packet(0x40, b[pos:pos + 2]))
            pos += 2
        payload = b[pos:]
        print("REQUEST %s %s" % (topic, payload.decode(errors="replace")), flush=True)
        if prefix == "-":
            continue
        reply_topic = topic.replace("/rrpc/request/", "/rrpc/response/", 1)
        s.sendall(packet(0x30, mqtt_str(reply_topic) + prefix.encode() + payload))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
