#!/usr/bin/env python3
"""An independent signer for the Aliyun OpenAPI (RPC style, signature version 1.0), written
from the public description only (spec 6.3): used by the emulator tests to sign curl requests.

usage: pop_sign.py METHOD ACCESS_KEY_ID ACCESS_KEY_SECRET [--nonce N] [--timestamp ISO]
                   [--bad-secret] Name=Value...
prints the signed, percent-encoded query string / form body.
"""
import base64
import datetime
import hashlib
import hmac
import sys
import urllib.parse
import uuid


def enc(s):
    return urllib.parse.quote(s, safe="-_.~")


def main(argv):
    method, akid, secret = argv[1], argv[2], argv[3]
    nonce = uuid.uuid4().hex
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = []
    rest = argv[4:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--nonce":
            nonce = rest[i + 1]
            i += 2
            continue
        if a == "--timestamp":
            ts = rest[i + 1]
            i += 2
            continue
        k, _, v = a.partition("=")
        params.append((k, v))
        i += 1
    common = {
        "Format": "JSON",
        "Version": "2018-01-20",
        "AccessKeyId": akid,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce,
        "Timestamp": ts,
        "RegionId": "cn-shanghai",
    }
    names = {k for k, _ in params}
    for k, v in common.items():
        if k not in names:
            params.append((k, v))
    pairs = sorted((enc(k), enc(v)) for k, v in params)
    canonical = "&".join(k + "=" + v for k, v in pairs)
    sts = method + "&" + enc("/") + "&" + enc(canonical)
    digest = hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()
    sig = base64.b64encode(digest).decode()
    print(canonical + "&Signature=" + enc(sig))


if __name__ == "__main__":
    main(sys.argv)
