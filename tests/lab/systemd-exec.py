#!/usr/bin/env python3
"""Split a systemd ExecStart= line into argv the way systemd.service(5) documents it,
for the subset the NixOS modules use, so CI can run a rendered unit's command for real
without systemd (scripts/lab-checks.sh). This is an emulation of the documented rules,
not systemd itself:

  - specifiers first: "%%" is "%", "%d" is the credentials directory (--credentials);
    any other specifier is an error (the modules use no other);
  - words are split at whitespace; "double" and 'single' quoted parts join a word, and
    C escapes (\\\\ \\" \\' \\n \\t \\r \\uXXXX) are decoded;
  - "$$" is a literal "$"; a word that is exactly $NAME is replaced by NAME's value split
    at whitespace (no word when unset or empty); ${NAME} inside a word is its value.

  systemd-exec.py --credentials DIR [--env NAME=VALUE]... -- 'EXECSTART LINE'

Prints one argument per line (NUL-free; arguments containing newlines are refused).
"""

import argparse
import re
import sys


def specifiers(line, creds):
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "%":
            if i + 1 >= len(line):
                raise ValueError("a lone % at the end")
            n = line[i + 1]
            if n == "%":
                out.append("%")
            elif n == "d":
                out.append(creds)
            else:
                raise ValueError(f"specifier %{n} is not emulated")
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}


def split_words(line):
    """Words as (text, raw) pairs; raw is the unquoted source text, for "$NAME" detection."""
    words, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in " \t\n":
            i += 1
        if i >= n:
            return words
        word, raw, quote = [], [], None
        while i < n:
            c = line[i]
            if quote is None and c in " \t\n":
                break
            if quote is None and c in "\"'":
                quote = c
                i += 1
                raw.append(c)
                continue
            if quote is not None and c == quote:
                quote = None
                i += 1
                raw.append(c)
                continue
            if c == "\\":
                if i + 1 >= n:
                    raise ValueError("a lone backslash at the end")
                e = line[i + 1]
                if e == "u":
                    word.append(chr(int(line[i + 2 : i + 6], 16)))
                    raw.append(line[i : i + 6])
                    i += 6
                    continue
                if e not in ESCAPES:
                    raise ValueError(f"escape \\{e} is not emulated")
                word.append(ESCAPES[e])
                raw.append(line[i : i + 2])
                i += 2
                continue
            word.append(c)
            raw.append(c)
            i += 1
        if quote is not None:
            raise ValueError("an unterminated quote")
        words.append(("".join(word), "".join(raw)))


def expand(words, env):
    argv = []
    for text, raw in words:
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", raw)
        if m:
            argv.extend(env.get(m.group(1), "").split())
            continue
        out, i = [], 0
        while i < len(text):
            if text.startswith("$$", i):
                out.append("$")
                i += 2
                continue
            m = re.match(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text[i:])
            if m:
                out.append(env.get(m.group(1), ""))
                i += len(m.group(0))
                continue
            out.append(text[i])
            i += 1
        argv.append("".join(out))
    return argv


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--credentials", required=True)
    p.add_argument("--env", action="append", default=[])
    p.add_argument("line")
    a = p.parse_args()
    env = dict(e.split("=", 1) for e in a.env)
    try:
        argv = expand(split_words(specifiers(a.line, a.credentials)), env)
    except ValueError as e:
        print(f"systemd-exec: {e}", file=sys.stderr)
        return 2
    for arg in argv:
        if "\n" in arg:
            print("systemd-exec: an argument holds a newline", file=sys.stderr)
            return 2
        print(arg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
