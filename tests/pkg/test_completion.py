#!/usr/bin/env python3
# deploy/completions/tcptrail against the program it completes: its option lists (per command,
# and which take a value) are those of `tcptrail --help`, its states those of src/states.c and
# (for --stuck) of tcptrail.8, its causes and --metrics-by labels those the help names and the
# program accepts; then what it offers for a few command lines. Needs bash; no root.
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TT = os.path.join(ROOT, "tcptrail")
COMP = os.path.join(ROOT, "deploy", "completions", "tcptrail")
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("  FAIL:", what)


def comp_var(name):
    out = subprocess.run(["bash", "-c", f'source "{COMP}"; printf "%s\\n" ${name}'],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def complete(*words):
    """What the completion offers for `tcptrail WORDS...` (the last word being completed)."""
    words = ("tcptrail",) + words
    arr = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (f'source "{COMP}"; COMP_WORDS=({arr}); COMP_CWORD={len(words) - 1}; '
              '_tcptrail 2>/dev/null; printf "%s\\n" "${COMPREPLY[@]}"')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                         cwd=ROOT).stdout
    return set(x for x in out.split("\n") if x)


def help_options():
    """Per command, the options --help lists for it, and those that take a value."""
    text = subprocess.run([TT, "--help"], capture_output=True, text=True).stdout
    cmds = {"trace": set(), "snapshot": set(), "replay": set()}
    takes_arg = set()
    section = None
    for line in text.split("\n"):
        m = re.match(r"^(\w[\w ]*)(\s*\(.*\))?:$", line)
        if m:
            section = m.group(1).lower()
            continue
        if not line.strip():
            section = None  # the last line (-h, -V) is of every command
            continue
        if not line.startswith(" "):
            continue
        fields = re.split(r"\s{2,}", line.strip())
        for i, f in enumerate(fields):
            if not f.startswith("-"):
                continue
            desc = fields[i + 1] if i + 1 < len(fields) else ""
            if section in ("trace", "snapshot", "replay"):
                applies = {section}
            elif desc.startswith("trace, replay:"):
                applies = {"trace", "replay"}
            elif desc.startswith("trace:"):
                applies = {"trace"}
            else:
                applies = set(cmds)
            for alt in f.split("/"):
                toks = alt.replace(",", " ").split()
                opts = [t for t in toks if t.startswith("-")]
                has_arg = any(re.match(r"^[A-Z][A-Z:=_]*$", t) for t in toks)
                for o in opts:
                    for c in applies:
                        cmds[c].add(o)
                    if has_arg:
                        takes_arg.add(o)
    return cmds, takes_arg, text


def accepted(opt, value):
    """The program takes `replay OPT VALUE` (a usage error is exit 2)."""
    r = subprocess.run([TT, "replay", opt, value, "/dev/null"], capture_output=True)
    return r.returncode == 0


def main():
    print("== completion: option lists against tcptrail --help")
    cmds, takes_arg, text = help_options()
    common = comp_var("_tcptrail_opts_all")
    for c in cmds:
        mine = common | comp_var(f"_tcptrail_opts_{c}")
        check(mine == cmds[c], f"{c}: completion has {sorted(mine - cmds[c])} more and "
              f"{sorted(cmds[c] - mine)} fewer options than --help")
    mine = comp_var("_tcptrail_opts_arg")
    check(mine == takes_arg, f"options with a value: completion has {sorted(mine - takes_arg)} "
          f"more and {sorted(takes_arg - mine)} fewer than --help")

    print("== completion: states, causes, --metrics-by labels")
    src = open(os.path.join(ROOT, "src", "states.c")).read()
    states = set(re.findall(r'\] = "([A-Z0-9_]+)"', src))
    check(comp_var("_tcptrail_states") == states, f"states: {sorted(states)} in src/states.c")
    for s in states:
        check(accepted("--state", s), f"--state {s} refused")
    check(not accepted("--state", "NO_SUCH_STATE"), "--state NO_SUCH_STATE accepted")
    man = " ".join(open(os.path.join(ROOT, "src", "tcptrail.8")).read().split())
    m = re.search(r"\.I STATE is one of ((?:[A-Z0-9_]+, )+[A-Z0-9_]+);", man)
    stuck = set(re.split(r", ", m.group(1))) if m else set()
    check(comp_var("_tcptrail_stuck_states") == stuck, f"--stuck states: tcptrail.8 says {stuck}")
    m = re.search(r"ended so: (.*?) \(their", " ".join(text.split()))
    causes = set(re.split(r",\s*", m.group(1))) if m else set()
    check(comp_var("_tcptrail_causes") == causes, f"causes: --help says {sorted(causes)}")
    for c in causes:
        check(accepted("--cause", c), f"--cause {c} refused")
    m = re.search(r"--metrics-by LABEL\s+(\w+), (\w+) or (\w+):", text)
    labels = set(m.groups()) if m else set()
    check(comp_var("_tcptrail_metrics_by") == labels, f"--metrics-by: --help says {labels}")

    print("== completion: what it offers")
    cases = [
        (("",), {"trace", "snapshot", "replay"}),
        (("sn",), {"snapshot"}),
        (("--metrics-by", ""), {"comm", "container", "unit"}),
        (("trace", "--metrics-by", "c"), {"comm", "container"}),
        (("--state", "CLOSE"), {"CLOSE", "CLOSE_WAIT"}),
        (("replay", "--state", "LISTEN,FIN_WAIT2"), {"LISTEN,FIN_WAIT2", "LISTEN,FIN_WAIT2_TW"}),
        (("--cause", "reset_in,re"), {"reset_in,refused", "reset_in,reset_in",
                                       "reset_in,reset_out"}),
        (("--stuck", "CLOS"), {"CLOSE_WAIT=", "CLOSING="}),
        (("snapshot", "--stuck", "TIME"), {"TIME_WAIT="}),
        (("--stuck", "TIME"), set()),
        (("-o", ""), {"text", "json"}),
        (("snapshot", "--al"), {"--all", "--all-netns"}),
        (("replay", "--s"), {"--summary", "--since", "--state"}),
        (("--metr",), {"--metrics", "--metrics-file", "--metrics-interval", "--metrics-by"}),
        (("replay", "--metr"), set()),
        (("-d", ""), set()),
        (("replay", "deploy/completions/tc"), {"deploy/completions/tcptrail"}),
        (("-w", "deploy/completions/tc"), {"deploy/completions/tcptrail"}),
    ]
    for words, want in cases:
        got = complete(*words)
        check(got == want, f"tcptrail {' '.join(words)}<TAB>: {sorted(got)}, want {sorted(want)}")

    if failures:
        print(f"completion: FAIL ({len(failures)} checks failed)")
        return 1
    print("completion: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
