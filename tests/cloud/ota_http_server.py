#!/usr/bin/env python3
"""A firmware server for aliot's download tests: serves one file at /fw.bin with Range (206),
and misbehaves on request (MODE):
  normal    the file, Range honoured
  drop      each reply without Range stops after DROP bytes and the connection is closed
            (a dropped connection mid-body); ranged replies are whole
  norange   Range ignored (always 200, whole file)
  oversize  the file and 100 bytes more (Content-Length says so)
  short     a complete reply of the file without its last 100 bytes
Prints the port, then one line per request: "GET <range header or ->".
Usage: ota_http_server.py FILE MODE [DROP]
"""
import http.server
import socketserver
import sys

path, mode = sys.argv[1], sys.argv[2]
drop = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
data = open(path, "rb").read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        print("GET", rng or "-", flush=True)
        body = data
        start = 0
        if mode == "oversize":
            body = data + b"x" * 100
        elif mode == "short":
            body = data[:-100]
        if rng and mode not in ("norange",) and rng.startswith("bytes="):
            start = int(rng[len("bytes="):].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(body))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(body) - 1, len(body)))
            part = body[start:]
        else:
            self.send_response(200)
            part = body
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if mode == "drop" and not rng:
            self.wfile.write(part[:drop])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(part)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
