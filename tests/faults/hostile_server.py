#!/usr/bin/env python3
"""A hostile HTTPS peer for aliot's HTTP clients (register, cloud pub, rrpc call).

  hostile_server.py --cert C --key K --mode MODE

Prints the port once it listens on 127.0.0.1, then serves every connection in MODE:
  stall        completes TLS, then never reads nor answers
  drip         reads the request, then answers a well-formed JSON reply one byte per 100 ms
  garbage      reads the request, answers 64 KiB of random bytes (no HTTP), closes
  garbage_body reads the request, answers HTTP 200 with a body of random bytes
  huge         reads the request, answers HTTP 200 with an endless JSON body
  huge_header  reads the request, answers an HTTP status line and one endless header
"""
import argparse
import os
import socket
import ssl
import sys
import threading
import time


def read_request(c):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v.strip())
    while len(body) < n:
        chunk = c.recv(65536)
        if not chunk:
            return
        body += chunk


def serve(c, mode):
    try:
        if mode == "stall":
            time.sleep(3600)
            return
        read_request(c)
        if mode == "drip":
            body = b'{"code":200,"data":{"productKey":"a1FakePK001","deviceName":"x",' \
                   b'"deviceSecret":"0123456789abcdef0123456789abcdef"},"message":"success",' \
                   b'"RequestId":"r","Success":true,"MessageId":1}'
            reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " \
                    + str(len(body)).encode() + b"\r\n\r\n" + body
            for i in range(len(reply)):
                c.sendall(reply[i:i + 1])
                time.sleep(0.1)
        elif mode == "garbage":
            c.sendall(os.urandom(65536))
        elif mode == "garbage_body":
            body = os.urandom(4096)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                      + str(len(body)).encode() + b"\r\n\r\n" + body)
        elif mode == "huge":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b'{"a":"' + b"x" * 65536
            frame = hex(len(chunk))[2:].encode() + b"\r\n" + chunk + b"\r\n"
            while True:
                c.sendall(frame)
        elif mode == "huge_header":
            c.sendall(b"HTTP/1.1 200 OK\r\nX-Endless: ")
            while True:
                c.sendall(b"a" * 65536)
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            c.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--mode", required=True)
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1], flush=True)
    while True:
        raw, _ = s.accept()

        def handshake_then_serve(raw=raw):
            try:
                raw.settimeout(30)
                c = ctx.wrap_socket(raw, server_side=True)
                c.settimeout(None)
            except (OSError, ssl.SSLError):
                raw.close()
                return
            serve(c, a.mode)

        threading.Thread(target=handshake_then_serve, daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
