#!/usr/bin/env python3
"""Runs a command with its standard output on a real terminal (a pty of COLS columns) and
copies what it wrote there to our standard output (the terminal's CR LF as LF). Its stderr
passes through. Usage: pty_run.py COLS COMMAND [ARG...]; exits with the command's status."""
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

cols = int(sys.argv[1])
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=slave)
os.close(slave)
out = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the last writer closed the terminal
        break
    if not chunk:
        break
    out += chunk
status = proc.wait()
sys.stdout.buffer.write(out.replace(b"\r\n", b"\n"))
sys.exit(status)
