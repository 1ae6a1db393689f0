#!/usr/bin/env python3
"""A minimal HTTP proxy for aliot's download tests: CONNECT tunnels and absolute-form requests
(GET http://host:port/path), relayed byte for byte. Prints its port, then one line per proxied
request: "CONNECT host:port" or "FORWARD url".
"""
import socket
import sys
import threading


def pipe(a, b):
    try:
        while True:
            chunk = a.recv(65536)
            if not chunk:
                break
            b.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = client.recv(4096)
        if not chunk or len(head) > 65536:
            client.close()
            return
        head += chunk
    line, rest = head.split(b"\r\n", 1)
    method, target, version = line.decode("latin-1").split(" ", 2)
    if method == "CONNECT":
        host, port = target.rsplit(":", 1)
        print("CONNECT", target, flush=True)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        extra = rest.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in rest else b""
        if extra:
            upstream.sendall(extra)
    else:
        print("FORWARD", target, flush=True)
        assert target.startswith("http://")
        hostport, _, path = target[len("http://"):].partition("/")
        host, _, port = hostport.partition(":")
        upstream = socket.create_connection((host, int(port or 80)))
        upstream.sendall(("%s /%s %s\r\n" % (method, path, version)).encode("latin-1") + rest)
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
    pipe(client, upstream)


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
print(srv.getsockname()[1], flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
