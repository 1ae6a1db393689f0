#!/usr/bin/env python3
"""Checks the include layering of aliot's sources.

  check_layering.py --root DIR               check the tree at DIR (exit 1 on a violation)
  check_layering.py --root DIR --self-test   prove the check fails: plant bad includes in a
                                             temporary copy of DIR and expect each to be caught

Rules (see docs/architecture.md):
  lib/**  is the library: it includes nothing from cli/ or emulator/.
  cli/**  holds options, rendering and exit codes: from emulator/ it may include only the public
          headers (emulator/include/**) and the switch simulator's entry (ALLOWED_FROM_CLI).

An include counts as reaching a file when it names it by path (relative to the including file)
or when every header in the tree with that name lies in a forbidden place (a header only that
layer defines, found through an include directory). System and third-party headers match no file
of the tree and are ignored.

known_violations.txt (next to this script) lists "FILE -> TARGET" pairs that are known and being
removed; each is tolerated, and the check fails once a listed pair no longer occurs, so the list
cannot go stale.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

LAYERS = ("lib", "cli", "emulator")
SOURCE_EXT = (".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".hxx", ".ipp", ".inc")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

# (layer, forbidden prefixes, allowed exceptions): paths relative to the root, '/' separated.
ALLOWED_FROM_CLI = ("emulator/include/", "emulator/switch/switch_sim.hpp")
RULES = {
    "lib": (("cli/", "emulator/"), ()),
    "cli": (("emulator/",), ALLOWED_FROM_CLI),
}

HERE = os.path.dirname(os.path.abspath(__file__))


def sources(root):
    for layer in LAYERS:
        top = os.path.join(root, layer)
        for d, dirs, files in os.walk(top):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(SOURCE_EXT):
                    yield os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")


def allowed(target, exceptions):
    return any(target == e or (e.endswith("/") and target.startswith(e)) for e in exceptions)


def forbidden(target, rule):
    prefixes, exceptions = rule
    return target.startswith(prefixes) and not allowed(target, exceptions)


def resolve(root, including, name, all_files):
    """The tree files an include may reach: by path from the including file, else every file
    whose path ends with the included name."""
    rel = os.path.normpath(os.path.join(os.path.dirname(including), name)).replace(os.sep, "/")
    if not rel.startswith("../") and os.path.isfile(os.path.join(root, rel)):
        return [rel]
    suffix = "/" + name.lstrip("./")
    return [f for f in all_files if f == name or f.endswith(suffix)]


def violations(root):
    all_files = list(sources(root))
    found = []
    for f in all_files:
        rule = RULES.get(f.split("/", 1)[0])
        if rule is None:
            continue
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                targets = resolve(root, f, m.group(2), all_files)
                if targets and all(forbidden(t, rule) for t in targets):
                    found.append((f, n, m.group(0).strip(), targets[0]))
    return found


def load_known(path):
    known = set()
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.split("#", 1)[0].strip()
                if line:
                    src, _, dst = line.partition("->")
                    known.add((src.strip(), dst.strip()))
    return known


def check(root, known_path):
    known = load_known(known_path)
    found = violations(root)
    bad = [v for v in found if (v[0], v[3]) not in known]
    stale = known - {(v[0], v[3]) for v in found}
    for f, n, text, target in bad:
        layer = f.split("/", 1)[0]
        print(f"{f}:{n}: {text}: {layer}/ must not include {target}", file=sys.stderr)
    for src, dst in sorted(stale):
        print(f"{known_path}: '{src} -> {dst}' no longer occurs: remove it from the list",
              file=sys.stderr)
    if bad or stale:
        print(f"layering: {len(bad)} violation(s), {len(stale)} stale known pair(s)",
              file=sys.stderr)
        return 1
    print(f"layering: {sum(1 for _ in sources(root))} files checked, no violation"
          + (f" ({len(known)} known pair(s) tolerated)" if known else ""))
    return 0


def self_test(root):
    """Plants one include at a time in a copy of the tree and expects the verdict."""
    cases = [
        # (file to write, include line, expect failure, text the report must hold)
        ("lib/src/util/planted.cpp", '#include "../../../cli/context.hpp"', True,
         "lib/src/util/planted.cpp:2"),
        ("lib/src/util/planted.cpp", "#include <switch_sim.hpp>", True,
         "must not include emulator/switch/switch_sim.hpp"),
        ("lib/src/util/planted.cpp", '#include "commands/commands.hpp"', True,
         "must not include cli/commands/commands.hpp"),
        ("cli/commands/planted.cpp", '#include "../../emulator/cloud/rules.hpp"', True,
         "cli/ must not include emulator/cloud/rules.hpp"),
        ("cli/commands/planted.cpp", "#include <state.hpp>", True,
         "must not include emulator/cloud/state.hpp"),
        # allowed: the switch simulator's entry and the emulator's public headers
        ("cli/commands/planted.cpp", "#include <switch_sim.hpp>", False, ""),
        ("cli/commands/planted.cpp", "#include <aliot/emulator/launcher.hpp>", False, ""),
        # a header the library itself defines, and a system header
        ("lib/src/util/planted.cpp", "#include <aliot/encoding.hpp>\n#include <vector>", False, ""),
    ]
    failures = 0
    with tempfile.TemporaryDirectory(prefix="aliot-layering-") as tmp:
        for i, (path, include, expect_fail, needle) in enumerate(cases):
            copy = os.path.join(tmp, str(i))
            for layer in LAYERS:
                src = os.path.join(root, layer)
                if os.path.isdir(src):
                    shutil.copytree(src, os.path.join(copy, layer))
            # a stand-in public emulator header for the allowed case
            pub = os.path.join(copy, "emulator/include/aliot/emulator/launcher.hpp")
            os.makedirs(os.path.dirname(pub), exist_ok=True)
            with open(pub, "a", encoding="utf-8") as fh:
                fh.write("#pragma once\n")
            with open(os.path.join(copy, path), "w", encoding="utf-8") as fh:
                fh.write("// planted by check_layering.py --self-test\n" + include + "\n")
            r = subprocess.run([sys.executable, __file__, "--root", copy], capture_output=True,
                               text=True, check=False)
            ok = (r.returncode == 1 and needle in r.stderr) if expect_fail else r.returncode == 0
            verdict = "ok" if ok else "WRONG"
            print(f"{verdict}: {path}: {include!r} -> exit {r.returncode}")
            if not ok:
                failures += 1
                print(r.stdout + r.stderr, file=sys.stderr)
        # a known pair that no longer occurs fails too (the list cannot go stale)
        copy = os.path.join(tmp, "stale")
        for layer in LAYERS:
            if os.path.isdir(os.path.join(root, layer)):
                shutil.copytree(os.path.join(root, layer), os.path.join(copy, layer))
        known = os.path.join(tmp, "known.txt")
        with open(known, "w", encoding="utf-8") as fh:
            for src, dst in sorted(load_known(os.path.join(HERE, "known_violations.txt"))):
                fh.write(f"{src} -> {dst}\n")
            fh.write("lib/src/gone.cpp -> cli/context.hpp\n")
        r = subprocess.run([sys.executable, __file__, "--root", copy, "--known", known],
                           capture_output=True, text=True, check=False)
        ok = r.returncode == 1 and "'lib/src/gone.cpp -> cli/context.hpp' no longer occurs" in r.stderr
        print(f"{'ok' if ok else 'WRONG'}: stale known pair -> exit {r.returncode}")
        if not ok:
            failures += 1
            print(r.stdout + r.stderr, file=sys.stderr)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--known", default=os.path.join(HERE, "known_violations.txt"))
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    return self_test(root) if a.self_test else check(root, a.known)


if __name__ == "__main__":
    sys.exit(main())
