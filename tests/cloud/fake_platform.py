#!/usr/bin/env python3
"""A small stand-in for the platform's HTTPS services, written independently of aliot's C++ code
(signatures are checked with Python's hmac), for the cloud tests that do not need the emulator.

  fake_platform.py --cert C --key K --product-key PK --product-secret PS
                   --access-key-id ID --access-key-secret S [--delay-ms N]

Prints "PORT <n>" once it listens on 127.0.0.1. Routes:
  POST /auth/register/device   dynamic registration (spec 4.3); device names steer the outcome:
        unknown*  -> not pre-registered (code 6288), activated* -> already activated (6289),
        slow*     -> answer after 3 s, anything else -> a fresh DeviceSecret (the latest wins)
        ctlsecret* -> a fresh DeviceSecret with ESC, a newline and NUL in it (JSON-escaped)
        rawsecret* -> a fresh DeviceSecret followed by the byte 0xFF (a body that is not UTF-8);
                      both recorded in "secrets" (rawsecret*: the part before 0xFF)
        product a1NoDynReg -> dynamic registration off (6208); a bad sign -> 401
  POST|GET /                   OpenAPI RPC (spec 6): RRpc (device names offline*/timeout*/
        halfconn* steer RrpcCode; otherwise the reply echoes the request with "re:" before it)
        and Pub; signature 1.0 verified; unknown id -> 404 InvalidAccessKeyId.NotFound
  GET /state                   {"secrets": {dn: latest secret}, "requests": [...]} for assertions
"""
import argparse
import base64
import hashlib
import hmac
import json
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"secrets": {}, "requests": []}
ARGS = None


def pct(s):
    return urllib.parse.quote(s, safe="-_.~")


def pop_signature(params, method):
    items = sorted((pct(k), pct(v)) for k, v in params.items() if k != "Signature")
    canon = "&".join(f"{k}={v}" for k, v in items)
    sts = f"{method}&%2F&{pct(canon)}"
    key = (ARGS.access_key_secret + "&").encode()
    return base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha1).digest()).decode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_form(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode()
        return raw, dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/state":
            with LOCK:
                return self.reply(200, STATE)
        if url.path == "/":
            params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            return self.openapi("GET", params)
        self.reply(404, {"code": 404, "message": "not found"})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        raw, form = self.read_form()
        if url.path == "/auth/register/device":
            return self.register(raw, form)
        if url.path == "/":
            params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            params.update(form)
            return self.openapi("POST", params)
        self.reply(404, {"code": 404, "message": "not found"})

    def register(self, raw, f):
        with LOCK:
            STATE["requests"].append({"path": "/auth/register/device", "body": raw,
                                      "content_type": self.headers.get("Content-Type")})
        if ARGS.delay_ms:
            time.sleep(ARGS.delay_ms / 1000.0)
        need = ["productKey", "deviceName", "random", "sign", "signMethod"]
        if any(k not in f for k in need):
            return self.reply(200, {"code": 460, "message": "request parameter error"})
        pk, dn = f["productKey"], f["deviceName"]
        algo = {"hmacmd5": hashlib.md5, "hmacsha1": hashlib.sha1,
                "hmacsha256": hashlib.sha256}.get(f["signMethod"].lower())
        if algo is None:
            return self.reply(200, {"code": 460, "message": "request parameter error"})
        content = f"deviceName{dn}productKey{pk}random{f['random']}"
        want = hmac.new(ARGS.product_secret.encode(), content.encode(), algo).hexdigest()
        if pk == "a1NoDynReg":
            return self.reply(200, {"code": 6208, "message": "dynamic register is not allowed for this product"})
        if pk != ARGS.product_key:
            return self.reply(200, {"code": 6207, "message": "product not found"})
        if not hmac.compare_digest(want, f["sign"].lower()):
            return self.reply(200, {"code": 401, "message": "request auth error"})
        if dn.startswith("unknown"):
            return self.reply(200, {"code": 6288, "message": "device not found: pre-register it first"})
        if dn.startswith("activated"):
            return self.reply(200, {"code": 6289, "message": "device is already activated"})
        if dn.startswith("slow"):
            time.sleep(3)
        if dn.startswith("garbled"):
            # A proxy's 503 page cut in the middle of a character: bytes that are not UTF-8.
            body = b"<html><title>503 \xe6\x9c\x8d\xe5\x8a\xa1\xe4\xb8</title>\xff\xfe"
            self.send_response(503)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if dn.startswith("endless"):
            # A server that never stops sending (no Content-Length, chunk after chunk).
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(4096):  # 256 MiB at most, then give up
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        ds = secrets.token_hex(16)
        if dn.startswith("ctlsecret"):
            ds = ds[:8] + "\x1b[2J\n\x00" + ds[8:]
        if dn.startswith("rawsecret"):
            with LOCK:
                STATE["secrets"][dn] = ds
            body = (b'{"code":200,"data":{"productKey":"%s","deviceName":"%s","deviceSecret":"%s\xff"},'
                    b'"message":"success"}' % (pk.encode(), dn.encode(), ds.encode()))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with LOCK:
            STATE["secrets"][dn] = ds
        self.reply(200, {"code": 200, "data": {"productKey": pk, "deviceName": dn, "deviceSecret": ds},
                         "message": "success"})

    def openapi(self, method, p):
        with LOCK:
            STATE["requests"].append({"path": "/", "method": method, "params": p})
        rid = secrets.token_hex(8)
        if p.get("AccessKeyId") != ARGS.access_key_id:
            return self.reply(404, {"RequestId": rid, "HostId": "127.0.0.1", "Code": "InvalidAccessKeyId.NotFound",
                                    "Message": "Specified access key is not found."})
        if p.get("Signature") != pop_signature(p, method):
            return self.reply(400, {"RequestId": rid, "HostId": "127.0.0.1", "Code": "SignatureDoesNotMatch",
                                    "Message": "Specified signature is not matched with our calculation. server string to sign is:x"})
        for k in ["Format", "Version", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp", "RegionId"]:
            if k not in p:
                return self.reply(400, {"RequestId": rid, "Code": "MissingParameter", "Message": f"{k} is mandatory"})
        action = p.get("Action")
        if action == "RRpc":
            t = int(p.get("Timeout", "0"))
            if t < 1000 or t > 8000:
                return self.reply(200, {"RequestId": rid, "Success": False, "Code": "iot.messagebroker.InvalidTimeoutValue",
                                        "ErrorMessage": "timeout is invalid"})
            dn = p.get("DeviceName", "")
            if dn.startswith("nodev"):
                return self.reply(200, {"RequestId": rid, "Success": False, "Code": "iot.device.NotExistedDevice",
                                        "ErrorMessage": "The specified device does not exist."})
            for prefix, code in (("offline", "OFFLINE"), ("timeout", "TIMEOUT"), ("halfconn", "HALFCONN")):
                if dn.startswith(prefix):
                    return self.reply(200, {"RequestId": rid, "Success": True, "RrpcCode": code, "MessageId": 889455942124347392})
            req = base64.b64decode(p["RequestBase64Byte"])
            out = base64.b64encode(b"re:" + req).decode()
            return self.reply(200, {"RequestId": rid, "Success": True, "RrpcCode": "SUCCESS",
                                    "PayloadBase64Byte": out, "MessageId": 889455942124347392})
        if action == "Pub":
            return self.reply(200, {"RequestId": rid, "Success": True, "MessageId": "1234567890123456789"})
        return self.reply(404, {"RequestId": rid, "Code": "InvalidAction.NotFound", "Message": "unknown action"})


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--product-key", default="a1FakePK001")
    ap.add_argument("--product-secret", required=True)
    ap.add_argument("--access-key-id", default="FAKEAKIDA0000001")
    ap.add_argument("--access-key-secret", default="FakeAkSecretA00000000000000001")
    ap.add_argument("--delay-ms", type=int, default=0)
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.request_queue_size = 128
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(f"PORT {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
