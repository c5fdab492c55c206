#!/usr/bin/env python3
"""Self-test of tests/bpfcheck.py: builds the two fixtures beside this file and checks that the
checker catches an over-budget call chain (a call and a bpf_loop callback), passes a chain
within budget, and names the fall-through back-edges Linux 6.1 refuses while passing loops
closed by a jump.

    python3 tests/bpfcheck/test_bpfcheck.py [--clang clang] [--out .output/bpfcheck]
"""

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "..", "bpfcheck.py")

failures = []


def expect(cond, what):
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        failures.append(what)


def run(args, env=None):
    e = dict(os.environ)
    e.pop("BPF_STACK_BUDGET", None)
    e.update(env or {})
    p = subprocess.run([sys.executable, CHECKER] + args, capture_output=True, text=True, env=e)
    return p.returncode, p.stdout.splitlines(), p.stderr


def stack_line(lines, chain):
    for line in lines:
        if line.startswith("bpf stack: %s = " % chain):
            return line
    return None


def consistent(line):
    """The total printed is the kernel's sum of 32-byte-rounded frames printed."""
    m = re.match(r"bpf stack: .* = (\d+) bytes .*\((.*)\) \[", line)
    if not m:
        return False
    frames = [int(f.rsplit(" ", 1)[1]) for f in m.group(2).split(", ")]
    return int(m.group(1)) == sum((max(f, 1) + 31) // 32 * 32 for f in frames)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clang", default="clang")
    ap.add_argument("--out", default=".output/bpfcheck")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    stack_o = os.path.join(args.out, "stack.bpf.o")
    loop_o = os.path.join(args.out, "loop61.o")
    subprocess.run([args.clang, "-g", "-O2", "-target", "bpf", "-mcpu=v3", "-Wall", "-c",
                    os.path.join(HERE, "stack.bpf.c"), "-o", stack_o], check=True)
    subprocess.run([args.clang, "-target", "bpf", "-mcpu=v3", "-c",
                    os.path.join(HERE, "loop61.s"), "-o", loop_o], check=True)

    # Stack budget.
    rc, out, err = run([stack_o])
    expect(rc == 1, "over-budget chains fail (exit %d %s)" % (rc, err.strip()))
    over = stack_line(out, "over -> big_sub")
    expect(over is not None and "> budget 384" in over, "call chain over budget reported: %s" % over)
    expect(over is not None and consistent(over), "its total is the sum of 32-rounded frames")
    viacb = stack_line(out, "viacb -> cb")
    expect(viacb is not None and "> budget 384" in viacb,
           "callback chain over budget reported: %s" % viacb)
    expect(not any(" small " in line or "small ->" in line for line in out),
           "chain within budget not reported")
    expect(not any(line.startswith("bpf loop") for line in out), "no loop reported in stack fixture")

    rc, out, _ = run(["-v", stack_o])
    small = stack_line(out, "small -> big_sub")
    expect(small is not None and "ok (budget 384)" in small and consistent(small),
           "verbose prints the chain within budget: %s" % small)
    m = re.search(r"big_sub (\d+)", small or "")
    expect(m is not None and 200 <= int(m.group(1)) <= 208, "big_sub's frame is its 200-byte buffer")

    rc, out, _ = run(["--budget", "512", stack_o])
    expect(rc == 0 and out == [], "--budget 512 passes (exit %d, %s)" % (rc, out))
    rc, out, _ = run([stack_o], env={"BPF_STACK_BUDGET": "512"})
    expect(rc == 0, "BPF_STACK_BUDGET=512 passes (exit %d)" % rc)

    # Linux 6.1 loops.
    rc, out, _ = run([loop_o])
    expect(rc == 1, "refused loops fail (exit %d)" % rc)
    loops = [line for line in out if line.startswith("bpf loop (6.1): ")]
    expect(any("prog fallthru: fall-through back-edge into fallthru+5 from fallthru+4" in line
               and '"back-edge from insn 4 to 5"' in line for line in loops),
           "fall-through back-edge in a program named: %s" % loops)
    expect(any("prog viasub: fall-through back-edge into subloop+6 from subloop+5" in line
               and '"back-edge from insn 9 to 10"' in line for line in loops),
           "fall-through back-edge in a subprogram named, at libbpf's insn numbers")
    expect(not any("condloop" in line or "jaloop" in line for line in loops),
           "loops closed by a conditional jump or a goto pass")
    expect(len(loops) == 2, "exactly two loop findings (%d)" % len(loops))
    rc, out, _ = run(["--no-loop61", loop_o])
    expect(rc == 0, "--no-loop61 skips the loop check (exit %d)" % rc)

    # An unreadable object is an error of its own.
    rc, _, err = run([os.path.join(HERE, "loop61.s")])
    expect(rc == 2 and "bpfcheck:" in err, "a non-ELF file exits 2")

    print("bpfcheck self-test: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
