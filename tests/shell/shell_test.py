#!/usr/bin/env python3
"""`aliot shell` driven as a person drives it: through a real pseudo-terminal, against the emulator.

    shell_test.py ALIOT SCENARIO

Scenarios: sub_pub (a message printed above the prompt while a line is half typed, the line still
there after), rrpc (a request answered by typing the reply; `aliot rrpc call` gets it), history
(written 0600, no line that held a secret), completion (tab completes a topic used before),
script (`aliot shell < file`: exit 0, and the first failure's code with the lines after it not
run), watch (`watch` in a script: the device's own publish comes back through the AMQP
subscription, marked as the device's; without an AccessKey exit 3). Each waits for what it expects with a bound (a failure, never a timing assertion).
"""
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import time

ALIOT = sys.argv[1]
SCENARIO = sys.argv[2]
PK = "a1ShellPK01"
DN = "dev1"
WHO = f"{PK}/{DN}@emulator> "
DOWN = "↓ q0 ".encode()  # pretty form: a message that came down to the device
BOUND = 30  # seconds any one expected output may take before the test fails


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class Emulator:
    def __init__(self, work):
        self.work = work
        self.dir = os.path.join(work, "emu")
        self.log = open(os.path.join(work, "emu.log"), "w")
        self.proc = subprocess.Popen([ALIOT, "emulate", "cloud", "--dir", self.dir],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.env = dict(os.environ)
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                fail("the emulator stopped: " + open(os.path.join(work, "emu.log")).read())
            m = re.match(r"export (\w+)=(.*)", line.strip())
            if m:
                self.env[m.group(1)] = m.group(2).strip("'")
                if m.group(1) == "ALIOT_API_ENDPOINT":
                    break
        else:
            fail("the emulator did not start")
        self.admin("add-product", "-k", PK)
        dev = json.loads(self.admin("add-device", "-k", PK, "-d", DN, "-o", "json"))
        self.admin("add-topic", "-k", PK, "--topic", "user/echo", "--access", "all")
        ak = self.admin("add-access-key", "--access-key-id", "LTAIshell", "-o", "json",
                        extra={"ALIOT_ACCESS_KEY_SECRET": "ShellOperatorSecret"})
        self.env.update({
            "ALIOT_DEVICE_SECRET": dev["DeviceSecret"],
            "ALIOT_ACCESS_KEY_ID": json.loads(ak)["AccessKeyId"],
            "ALIOT_ACCESS_KEY_SECRET": "ShellOperatorSecret",
            "XDG_STATE_HOME": os.path.join(work, "state"),
            "XDG_CONFIG_HOME": os.path.join(work, "config"),
            "HOME": work,
            "TERM": "xterm",
        })
        self.env["NO_COLOR"] = "1"  # the pretty form without colour (the renderer has its own tests)

    def admin(self, *args, extra=None):
        env = dict(self.env)
        env.update(extra or {})
        r = subprocess.run([ALIOT, "emulate", "cloud", args[0], "--dir", self.dir, *args[1:]],
                           env=env, capture_output=True, text=True, timeout=BOUND)
        if r.returncode != 0:
            fail(f"emulate cloud {args[0]}: {r.stderr}")
        return r.stdout

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(BOUND)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Pty:
    """aliot shell on a pseudo-terminal of 200 columns, its output collected as it comes."""

    def __init__(self, env, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(ALIOT, [ALIOT, "shell", "-k", PK, "-d", DN, "--tcp", *args], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.out = b""
        self.seen = 0  # what expect() has matched so far

    def pump(self, wait):
        r, _, _ = select.select([self.fd], [], [], wait)
        if r:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            if not data:
                return False
            self.out += data
        return True

    def expect(self, text, what=None):
        """Waits until `text` (bytes or regex) shows after what was matched before."""
        deadline = time.monotonic() + BOUND
        pat = text if isinstance(text, re.Pattern) else re.compile(re.escape(text))
        while time.monotonic() < deadline:
            m = pat.search(self.out, self.seen)
            if m:
                self.seen = m.end()
                return m
            if not self.pump(0.2):
                break
        fail(f"never saw {what or text!r}; the terminal showed:\n{self.screen()}")

    def send(self, text):
        os.write(self.fd, text.encode())

    def screen(self):
        return self.out.decode(errors="replace")

    def close(self):
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            self.pump(0.1)
        os.kill(self.pid, signal.SIGKILL)
        fail("the shell did not exit")


def start_shell(emu):
    sh = Pty(emu.env)
    sh.expect(WHO.encode(), "the prompt")
    return sh


def run(emu, *args, **kw):
    return subprocess.run([ALIOT, *args], env=emu.env, capture_output=True, text=True,
                          timeout=BOUND, **kw)


def scenario_sub_pub(emu):
    sh = start_shell(emu)
    sh.send("sub user/echo\r")
    sh.expect(WHO.encode(), "the prompt after sub")
    # Half a line typed; the cloud sends meanwhile: the message shows above the prompt and the
    # half line is drawn again after it.
    sh.send("pub user/ec")
    sh.expect(b"pub user/ec", "the half-typed line")
    r = run(emu, "cloud", "pub", "-k", PK, "-t", f"/{PK}/{DN}/user/echo", "-m",
            '{"from":"cloud"}')
    if r.returncode != 0:
        fail("cloud pub: " + r.stderr)
    sh.expect(re.compile(DOWN + rb'/\xe2\x80\xa6/user/echo\s+\{\s+"from": "cloud"\s+\}'),
              "the cloud's message, pretty")
    sh.expect(re.compile(re.escape(WHO.encode()) + rb"pub user/ec"), "the half line redrawn")
    # The rest of the line: the very line typed before the message runs, and the device gets its
    # own publish back (sub and pub in one session).
    sh.send('ho "hello there"\r')
    sh.expect(re.compile(DOWN + rb"/\xe2\x80\xa6/user/echo\s+hello there"),
              "the device's own publish, received")
    sh.send("status\r")
    sh.expect(re.compile(rb"messages in: +2"), "status counting two messages in")
    sh.send("exit\r")
    code = sh.close()
    if code != 0:
        fail(f"exit gave {code}")


def scenario_rrpc(emu):
    sh = start_shell(emu)
    sh.send("rrpc\r")
    sh.expect(b"rrpc: answering", "rrpc on")
    sh.expect(WHO.encode(), "the prompt after rrpc")
    call = subprocess.Popen([ALIOT, "rrpc", "call", "-k", PK, "-d", DN, "-m", "ping",
                             "--timeout", "8s"], env=emu.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sh.expect(re.compile(rb"rrpc \d+ reply \(\d+s\)> "), "the reply prompt counting down")
    sh.send("pong\r")
    out, err = call.communicate(timeout=BOUND)
    if call.returncode != 0 or out != "pong\n":
        fail(f"rrpc call got {call.returncode} {out!r} {err!r}")
    sh.send("exit\r")
    if sh.close() != 0:
        fail("exit")


def scenario_history(emu):
    sh = start_shell(emu)
    sh.send("sub user/echo\r")
    sh.expect(WHO.encode(), "the prompt after sub")
    sh.send("pub user/echo x --device-secret TopSecretValue1\r")
    sh.expect(b"unknown option --device-secret", "the refused flag")
    sh.send("exit\r")
    if sh.close() != 0:
        fail("exit")
    path = os.path.join(emu.env["XDG_STATE_HOME"], "aliot", "history")
    st = os.stat(path)
    if stat.S_IMODE(st.st_mode) != 0o600:
        fail(f"history mode {oct(stat.S_IMODE(st.st_mode))}")
    text = open(path, "rb").read()
    if b"TopSecretValue1" in text:
        fail("the history kept a secret: " + text.decode(errors="replace"))
    if b"sub user/echo" not in text.replace(b"\\040", b" "):
        fail("the history lacks `sub user/echo`: " + text.decode(errors="replace"))
    # A second session recalls it (up arrow).
    sh = start_shell(emu)
    sh.send("\x1b[A")
    sh.expect(b"exit", "the last line recalled")
    sh.send("\r")
    if sh.close() != 0:
        fail("exit")


def scenario_completion(emu):
    sh = start_shell(emu)
    sh.send("sub user/echo\r")
    sh.expect(WHO.encode(), "the prompt after sub")
    sh.send("pub user/ec\t")
    sh.expect(b"ho", "the completed topic")
    sh.send("completed\r")
    sh.expect(re.compile(DOWN + rb"/\xe2\x80\xa6/user/echo\s+completed"),
              "the message on the completed topic")
    sh.send("st\t")
    sh.expect(b"atus", "the completed command")
    sh.send("\r")
    sh.expect(b"connected:", "status output")
    sh.send("exit\r")
    if sh.close() != 0:
        fail("exit")


def scenario_script(emu):
    env = dict(emu.env)
    ok = subprocess.run([ALIOT, "shell", "-k", PK, "-d", DN, "--tcp"], env=env, text=True,
                        input="sub user/echo\npub user/echo hello -q 1\nsleep 2s\nsubs\n",
                        capture_output=True, timeout=BOUND)
    if ok.returncode != 0:
        fail(f"script exit {ok.returncode}: {ok.stderr}")
    # What arrived (as sub prints it when piped) and what `subs` says; no prompt, no echo of the
    # script's own publish.
    if ok.stdout != f"hello\n/{PK}/{DN}/user/echo (QoS 0)\n":
        fail("script output: " + repr(ok.stdout))
    # The first failure's code: a topic outside the device's namespace is usage (2); the line
    # after it (status, which prints) does not run.
    bad = subprocess.run([ALIOT, "shell", "-k", PK, "-d", DN, "--tcp"], env=env, text=True,
                         input="pub user/echo one\nsub /a1OtherPK9/devX/user/get\nstatus\n",
                         capture_output=True, timeout=BOUND)
    if bad.returncode != 2 or "aliot: error:" not in bad.stderr:
        fail(f"expected exit 2, got {bad.returncode}: {bad.stderr}")
    # A cloud command without an AccessKey is config (3).
    env3 = dict(env)
    env3.pop("ALIOT_ACCESS_KEY_ID")
    cfg = subprocess.run([ALIOT, "shell", "-k", PK, "-d", DN, "--tcp"], env=env3, text=True,
                         input="cloud pub user/echo x\nstatus\n",
                         capture_output=True, timeout=BOUND)
    if cfg.returncode != 3 or "AccessKey" not in cfg.stderr:
        fail(f"expected exit 3, got {cfg.returncode}: {cfg.stderr}")
    for r in (bad, cfg):
        if "connected:" in r.stdout:
            fail("a line after the failure ran: " + r.stdout)
    # A cloud RRPC call to the shell's own device, answered by it (rrpc --echo): the reply is
    # the script's output.
    rr = subprocess.run([ALIOT, "shell", "-k", PK, "-d", DN, "--tcp"], env=env, text=True,
                        input="rrpc --echo\nrrpc call marco\n", capture_output=True,
                        timeout=BOUND)
    if rr.returncode != 0 or rr.stdout.splitlines()[-1:] != ["marco"]:
        fail(f"rrpc call in a script: {rr.returncode} {rr.stdout!r} {rr.stderr}")


def scenario_watch(emu):
    emu.admin("add-consumer-group", "-k", PK, "--consumer-group", "DEFAULT_GROUP")
    if not emu.env.get("ALIOT_AMQP_ENDPOINT"):
        fail("the emulator exported no ALIOT_AMQP_ENDPOINT")
    # The device publishes (not subscribed to it, so nothing comes down); the watch prints what
    # the backend gets. --verbose-topic: the line carries the whole device topic.
    w = subprocess.run([ALIOT, "shell", "-k", PK, "-d", DN, "--tcp", "--verbose-topic"],
                       env=emu.env, text=True,
                       input="watch\npub user/update watched-msg-1 -q 1\nsleep 2s\nwatch off\n",
                       capture_output=True, timeout=BOUND * 2)
    if w.returncode != 0:
        fail(f"watch script exit {w.returncode}: {w.stderr}")
    lines = w.stdout.splitlines()
    if f"/{PK}/{DN}/user/update watched-msg-1" not in lines:
        fail("the watched message is not on stdout: " + repr(w.stdout) + " " + w.stderr)
    if "watch: stopped watching group 'DEFAULT_GROUP'" not in lines:
        fail("watch off said nothing: " + repr(w.stdout))
    # Pretty form (as on a terminal): marked as the device's message (↑).
    p = subprocess.run([ALIOT, "shell", "-k", PK, "-d", DN, "--tcp", "--pretty"],
                       env=emu.env, text=True,
                       input="watch\npub user/update watched-msg-2\nsleep 2s\n",
                       capture_output=True, timeout=BOUND * 2)
    if p.returncode != 0 or not re.search(r"↑ .*user/update.*\n(.*\n)*.*watched-msg-2", p.stdout):
        fail(f"pretty watch: {p.returncode} {p.stdout!r} {p.stderr}")
    # Without an AccessKey: config (3), one error line saying so, the next line not run.
    env3 = dict(emu.env)
    env3.pop("ALIOT_ACCESS_KEY_ID")
    cfg = subprocess.run([ALIOT, "shell", "-k", PK, "-d", DN, "--tcp"], env=env3, text=True,
                         input="watch\nstatus\n", capture_output=True, timeout=BOUND)
    if cfg.returncode != 3 or "watch needs an AccessKey" not in cfg.stderr:
        fail(f"expected exit 3, got {cfg.returncode}: {cfg.stderr}")
    if "connected:" in cfg.stdout:
        fail("a line after the failure ran: " + cfg.stdout)


def main():
    work = tempfile.mkdtemp(prefix="aliot-shell-")
    emu = Emulator(work)
    try:
        globals()["scenario_" + SCENARIO](emu)
    finally:
        emu.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"ok: {SCENARIO}")


main()
