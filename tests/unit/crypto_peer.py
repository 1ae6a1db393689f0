#!/usr/bin/env python3
"""An independent peer for aliot's HMAC and SHA-256 calls (tests/unit/crypto_test.cpp).

Prints COUNT random cases, one a line: `<alg> <key hex> <message hex> <expected hex>`, alg one of
md5, sha1, sha256 (HMAC) or digest-sha256 (a plain SHA-256, key empty, shown as "-").

The expected values do not come from OpenSSL, which aliot's calls use: the digests are CPython's
own (the _md5, _sha1 and _sha256/_sha2 modules, not hashlib's OpenSSL ones) and the HMAC is Python's
pure RFC 2104 code (hmac.new takes that path for a digest constructor that is not OpenSSL's).
Key lengths cluster around the 64-byte block (63, 64, 65; keys past it are hashed first) and
message lengths around the padding boundaries.

    crypto_peer.py COUNT SEED
"""
import hmac
import random
import sys

from _md5 import md5
from _sha1 import sha1

try:
    from _sha2 import sha256  # Python 3.12 and later
except ImportError:
    from _sha256 import sha256

DIGESTS = {"md5": md5, "sha1": sha1, "sha256": sha256}
KEY_LENGTHS = [0, 1, 20, 32, 55, 56, 63, 64, 65, 100, 127, 128, 129, 131, 1000]
MESSAGE_LENGTHS = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    for i in range(count):
        key_len = KEY_LENGTHS[i % len(KEY_LENGTHS)] if i % 2 == 0 else rng.randrange(0, 200)
        msg_len = MESSAGE_LENGTHS[i % len(MESSAGE_LENGTHS)] if i % 3 == 0 else rng.randrange(0, 300)
        key = rng.randbytes(key_len)
        msg = rng.randbytes(msg_len)
        for name, ctor in DIGESTS.items():
            mac = hmac.new(key, msg, ctor)
            # The pure-Python path, not OpenSSL's HMAC: its inner hash is the builtin's.
            assert isinstance(mac._inner, type(ctor())), "hmac took OpenSSL's path"
            print(name, key.hex() or "-", msg.hex() or "-", mac.hexdigest())
        print("digest-sha256", "-", msg.hex() or "-", sha256(msg).hexdigest())


main()
