#!/usr/bin/env python3
"""bpfcheck: static checks on tcptrail's linked BPF objects, run by `make` before a skeleton
is generated, so that what a kernel's verifier would refuse fails the build, not the user.

    python3 tests/bpfcheck.py [-v] [--budget N] [--no-loop61] OBJ.bpf.o...

It reads the ELF object itself (sections, symbols, relocations, instructions) and needs no
other tool.  Two checks:

1. Stack budget.  Every function's frame is the deepest negative r10 offset its code uses
   (loads/stores through r10, and stack addresses formed as `rX = r10; rX += -N`, followed
   through register copies and constant adds within a basic block).  Programs are functions in
   a section other than .text; subprograms are .text functions.  Edges are BPF-to-BPF calls
   (`call` with src_reg BPF_PSEUDO_CALL to a .text function, by relocation or pc-relative)
   and callbacks (an ld_imm64 of a .text function address, passed to bpf_loop,
   bpf_for_each_map_elem, ...), whose frames the kernel also stacks on the caller's.  Helper
   calls (src_reg 0) and kfunc calls (src_reg 2, or a pseudo call relocated against an
   undefined extern) are not edges.  As the kernel's check_max_stack_depth_subprog() does
   (v6.1 and later without JIT, and every kernel when all frames are summed at interpreter
   granularity), each frame counts round_up(max(depth, 1), 32) in the combined total; newer
   kernels with a JIT round frames to 16 instead, so the 32 rule is the bound that holds
   everywhere.  A program whose deepest chain exceeds the budget (default 384, the kernel's
   own limit is 512) fails.  Async callbacks (bpf_timer) are counted like the others, which
   over-estimates: tcptrail uses none.

2. Loops as Linux 6.1 sees them.  6.1's check_cfg() walks each loaded program depth-first
   (visit_insn/push_insn) and accepts a back-edge only on an edge pushed with loop_ok:
   conditional jump edges (both), `goto`, and the edge into a callback; the fall-through
   edge of an ordinary instruction, of a helper/kfunc/BPF-to-BPF call, and the call edge
   into a subprogram are not.  Newer kernels (6.4+) dropped that rule, so a clang loop laid
   out with a fall-through into its header is refused only by 6.1.  This check rebuilds the
   program the way libbpf loads it (the program's code, then each subprogram appended when
   first referenced, depth-first, in instruction order, as bpf_object__reloc_code() does),
   then runs the same DFS with the same push order and reports the edge 6.1 would name
   ("back-edge from insn T to W"), plus its "unreachable insn" and "jump out of range"
   refusals.  Assumes CAP_BPF (without it every loop is refused).  It is an exact replay of
   check_cfg() on that layout; what libbpf may still change before loading (CO-RE poisoning
   of a failed relocation turns an instruction into a helper call, which has the same
   fall-through edge) does not change the control-flow graph.

Exit status: 0 clean, 1 a check failed, 2 the object could not be read.
"""

import argparse
import os
import struct
import sys

MAX_BPF_STACK = 512
MAX_CALL_FRAMES = 8

# Instruction classes and opcodes (include/uapi/linux/bpf.h, bpf_common.h).
BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_ALU, BPF_JMP, BPF_JMP32, BPF_ALU64 = range(8)
BPF_JA, BPF_CALL, BPF_EXIT = 0x00, 0x80, 0x90
BPF_MOV, BPF_ADD, BPF_SUB = 0xB0, 0x00, 0x10
BPF_X = 0x08
BPF_ATOMIC = 0xC0
BPF_FETCH = 0x01
BPF_CMPXCHG = 0xF0 | BPF_FETCH
LD_IMM64 = 0x18
PSEUDO_CALL, PSEUDO_KFUNC_CALL = 1, 2
PSEUDO_FUNC = 4
FUNC_tail_call = 12
FP = 10

SHT_SYMTAB, SHT_REL = 2, 9
SHF_EXECINSTR = 0x4
STT_FUNC = 2


class Insn:
    __slots__ = ("code", "dst", "src", "off", "imm")

    def __init__(self, raw):
        self.code, regs, self.off, self.imm = struct.unpack("<BBhi", raw)
        self.dst, self.src = regs & 0xF, regs >> 4

    @property
    def cls(self):
        return self.code & 7

    @property
    def op(self):
        return self.code & 0xF0


class Func:
    def __init__(self, name, sec, start, count, is_prog):
        self.name, self.sec, self.start, self.count, self.is_prog = name, sec, start, count, is_prog
        self.frame = 0  # deepest r10 offset used, bytes
        self.refs = []  # (local insn index, kind 'call' | 'cb', callee Func)
        self.tail_call = False

    @property
    def frame8(self):
        return (self.frame + 7) // 8 * 8


class BpfObject:
    """The parts of a relocatable BPF ELF object this check needs."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise ValueError("not a 64-bit little-endian ELF object")
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        secs = []
        for i in range(shnum):
            name, typ, flags, _addr, off, size, link, info, _align, entsize = struct.unpack_from(
                "<IIQQQQIIQQ", data, shoff + i * shentsize)
            secs.append(dict(name=name, type=typ, flags=flags, off=off, size=size, link=link,
                             info=info, entsize=entsize))
        shstr = secs[shstrndx]

        def cstr(sec, off):
            base = sec["off"] + off
            return data[base:data.index(b"\0", base)].decode()

        for s in secs:
            s["name"] = cstr(shstr, s["name"])
        self.secs = secs
        self.text = next((i for i, s in enumerate(secs) if s["name"] == ".text"), None)

        self.syms = []
        symtab = next((s for s in secs if s["type"] == SHT_SYMTAB), None)
        if symtab is None:
            raise ValueError("no symbol table")
        strtab = secs[symtab["link"]]
        for i in range(symtab["size"] // 24):
            name, info, _other, shndx, value, size = struct.unpack_from(
                "<IBBHQQ", data, symtab["off"] + i * 24)
            self.syms.append(dict(name=cstr(strtab, name), type=info & 0xF, bind=info >> 4,
                                  shndx=shndx, value=value, size=size))

        # Instructions of every executable section, and relocations by (section, insn index).
        self.insns = {}
        for i, s in enumerate(secs):
            if s["flags"] & SHF_EXECINSTR and s["size"]:
                raw = data[s["off"]:s["off"] + s["size"]]
                self.insns[i] = [Insn(raw[j:j + 8]) for j in range(0, len(raw), 8)]
        self.relocs = {}
        for s in secs:
            if s["type"] == SHT_REL and s["info"] in self.insns:
                for j in range(s["size"] // 16):
                    off, info = struct.unpack_from("<QQ", data, s["off"] + j * 16)
                    self.relocs[(s["info"], off // 8)] = self.syms[info >> 32]

        # Functions: programs outside .text, subprograms in .text.
        self.funcs = []
        self.by_start = {}
        for sym in self.syms:
            if sym["type"] != STT_FUNC or sym["shndx"] not in self.insns:
                continue
            fn = Func(sym["name"], sym["shndx"], sym["value"] // 8, sym["size"] // 8,
                      sym["shndx"] != self.text)
            self.funcs.append(fn)
            self.by_start[(fn.sec, fn.start)] = fn
        self.funcs.sort(key=lambda f: (f.sec, f.start))
        for fn in self.funcs:
            measure_frame(self, fn)
            find_refs(self, fn)

    def func_insns(self, fn):
        return self.insns[fn.sec][fn.start:fn.start + fn.count]

    def sec_name(self, fn):
        return self.secs[fn.sec]["name"]


def jump_targets(insns):
    targets = set()
    for i, ins in enumerate(insns):
        if ins.cls in (BPF_JMP, BPF_JMP32) and ins.op not in (BPF_CALL, BPF_EXIT):
            targets.add(i + ins.off + 1)
    return targets


def measure_frame(obj, fn):
    """Deepest stack offset fn's code touches or forms an address of."""
    insns = obj.func_insns(fn)
    labels = jump_targets(insns)
    fp = {}  # register -> known offset from r10
    deepest = 0

    def note(off):
        nonlocal deepest
        deepest = max(deepest, -off)

    i = 0
    while i < len(insns):
        ins = insns[i]
        if i in labels:
            fp.clear()
        cls, op = ins.cls, ins.op
        if ins.code == LD_IMM64:
            fp.pop(ins.dst, None)
            i += 2
            continue
        if cls == BPF_LDX:
            if ins.src == FP:
                note(ins.off)
            elif ins.src in fp:
                note(fp[ins.src] + ins.off)
            fp.pop(ins.dst, None)
        elif cls in (BPF_ST, BPF_STX):
            if ins.dst == FP:
                note(ins.off)
            elif ins.dst in fp:
                note(fp[ins.dst] + ins.off)
            if cls == BPF_STX and (ins.code & 0xE0) == BPF_ATOMIC:
                if ins.imm == BPF_CMPXCHG:
                    fp.pop(0, None)
                elif ins.imm & BPF_FETCH:
                    fp.pop(ins.src, None)
        elif cls == BPF_ALU64 and op == BPF_MOV and ins.code & BPF_X:
            if ins.src == FP:
                fp[ins.dst] = 0
            elif ins.src in fp:
                fp[ins.dst] = fp[ins.src]
            else:
                fp.pop(ins.dst, None)
        elif cls == BPF_ALU64 and op in (BPF_ADD, BPF_SUB) and not ins.code & BPF_X \
                and ins.dst in fp:
            fp[ins.dst] += ins.imm if op == BPF_ADD else -ins.imm
            note(fp[ins.dst])
        elif cls in (BPF_ALU, BPF_ALU64):
            fp.pop(ins.dst, None)
        elif cls in (BPF_JMP, BPF_JMP32):
            if op == BPF_CALL:
                for r in range(6):
                    fp.pop(r, None)
            elif op in (BPF_JA, BPF_EXIT):
                fp.clear()
        i += 1
    fn.frame = deepest


def ref_target(obj, fn, i, ins):
    """For insn i of fn: ('call'|'cb', callee start in .text) or None."""
    sec = fn.sec
    rel = obj.relocs.get((sec, fn.start + i))
    if ins.code == (BPF_JMP | BPF_CALL):
        if ins.src != PSEUDO_CALL:
            return None
        if rel is None:  # static callee in the same section, pc-relative
            return "call", sec, fn.start + i + ins.imm + 1
        if rel["shndx"] == 0:  # extern: a kfunc
            return None
        return "call", rel["shndx"], rel["value"] // 8 + ins.imm + 1
    if ins.code == LD_IMM64 and rel is not None and rel["shndx"] == obj.text \
            and obj.text is not None:
        return "cb", rel["shndx"], (rel["value"] + ins.imm) // 8
    return None


def find_refs(obj, fn):
    insns = obj.func_insns(fn)
    for i, ins in enumerate(insns):
        if ins.code == (BPF_JMP | BPF_CALL) and ins.src == 0 and ins.imm == FUNC_tail_call:
            fn.tail_call = True
        t = ref_target(obj, fn, i, ins)
        if t is None:
            continue
        kind, sec, start = t
        callee = obj.by_start.get((sec, start))
        if callee is None or callee.is_prog:
            raise ValueError("%s+%d: %s into %s insn %d, not the start of a .text function"
                             % (fn.name, i, kind, obj.secs[sec]["name"], start))
        fn.refs.append((i, kind, callee))


def frame_cost(fn):
    return (max(fn.frame, 1) + 31) // 32 * 32


def deepest_chain(fn, seen=()):
    """(total, [funcs]) of fn's costliest call chain; raises on recursion."""
    if fn in seen:
        raise ValueError("recursion: " + " -> ".join(f.name for f in seen + (fn,)))
    best = (0, [])
    for _i, _kind, callee in fn.refs:
        sub = deepest_chain(callee, seen + (fn,))
        if sub[0] > best[0]:
            best = sub
    return frame_cost(fn) + best[0], [fn] + best[1]


def tail_call_problems(fn, depth=0, chain=()):
    """6.1 refuses a tail call in a subprogram whose callers' frames reach 256 bytes."""
    chain = chain + (fn,)
    out = []
    if len(chain) > 1 and fn.tail_call and depth >= 256:
        out.append((depth, chain))
    for _i, _kind, callee in fn.refs:
        out += tail_call_problems(callee, depth + frame_cost(fn), chain)
    return out


# --- 6.1 check_cfg() replay ---------------------------------------------------------------

def libbpf_layout(obj, prog):
    """The program as libbpf loads it: [(func, local index)], insns with call imms fixed."""
    funcs = [prog]
    base = {prog: 0}

    def reloc(fn):
        for i, _kind, callee in fn.refs:
            if callee not in base:
                base[callee] = sum(f.count for f in funcs)
                funcs.append(callee)
                reloc(callee)
    reloc(prog)

    insns, where = [], []
    for fn in funcs:
        local = obj.func_insns(fn)
        targets = {i: base[callee] for i, _kind, callee in fn.refs}
        for i, ins in enumerate(local):
            code, src, off, imm = ins.code, ins.src, ins.off, ins.imm
            if i in targets:
                imm = targets[i] - (base[fn] + i) - 1
                src = PSEUDO_FUNC if code == LD_IMM64 else PSEUDO_CALL
            elif code == (BPF_JMP | BPF_CALL) and src == PSEUDO_CALL:
                src = PSEUDO_KFUNC_CALL  # extern kfunc, resolved by libbpf
            insns.append((code, src, off, imm))
            where.append((fn, i))
    return insns, where


DISCOVERED, EXPLORED, FALLTHROUGH, BRANCH = 0x10, 0x20, 1, 2


class CfgError(Exception):
    def __init__(self, msg, t, w=None, loop_ok=None):
        super().__init__(msg)
        self.t, self.w, self.loop_ok = t, w, loop_ok


def check_cfg_61(insns):
    """Linux 6.1 check_cfg(), bpf_capable: raises CfgError as the kernel would refuse."""
    n = len(insns)
    state = [0] * n
    stack = [0]
    state[0] = DISCOVERED

    def push(t, w, e, loop_ok):
        if e == FALLTHROUGH and state[t] >= DISCOVERED | FALLTHROUGH:
            return 0
        if e == BRANCH and state[t] >= DISCOVERED | BRANCH:
            return 0
        if w < 0 or w >= n:
            raise CfgError("jump out of range from insn %d to %d" % (t, w), t, w)
        if state[w] == 0:
            state[t] = DISCOVERED | e
            state[w] = DISCOVERED
            stack.append(w)
            return 1
        if state[w] & 0xF0 == DISCOVERED:
            if loop_ok:
                return 0
            raise CfgError("back-edge from insn %d to %d" % (t, w), t, w, e)
        state[t] = DISCOVERED | e  # forward or cross edge
        return 0

    def call_edges(t, visit_callee, is_func):
        ret = push(t, t + 1, FALLTHROUGH, False)
        if ret:
            return ret
        if visit_callee:
            ret = push(t, t + insns[t][3] + 1, BRANCH, is_func)
        return ret

    def visit(t):
        code, src, off, imm = insns[t]
        if code == LD_IMM64 and src == PSEUDO_FUNC:
            return call_edges(t, True, True)
        cls, op = code & 7, code & 0xF0
        if cls not in (BPF_JMP, BPF_JMP32):
            return push(t, t + 1, FALLTHROUGH, False)
        if op == BPF_EXIT:
            return 0
        if op == BPF_CALL:
            return call_edges(t, src == PSEUDO_CALL, False)
        if op == BPF_JA:
            return push(t, t + off + 1, FALLTHROUGH, True)
        ret = push(t, t + 1, FALLTHROUGH, True)
        if ret:
            return ret
        return push(t, t + off + 1, BRANCH, True)

    while stack:
        t = stack[-1]
        if visit(t) == 0:
            state[t] = EXPLORED
            stack.pop()
    for i in range(n):
        if state[i] != EXPLORED:
            raise CfgError("unreachable insn %d" % i, i)


def loop61_problem(obj, prog):
    insns, where = libbpf_layout(obj, prog)
    try:
        check_cfg_61(insns)
    except CfgError as err:
        def at(k):
            fn, i = where[k]
            return "%s+%d" % (fn.name, i)
        if err.w is not None and err.loop_ok is not None:
            kind = "fall-through" if insns[err.t][0] & 7 not in (BPF_JMP, BPF_JMP32) \
                else "call fall-through" if insns[err.t][0] & 0xF0 == BPF_CALL \
                else "call"
            return "%s back-edge into %s from %s (6.1: \"%s\")" % (kind, at(err.w), at(err.t), err)
        return "%s at %s" % (err, at(err.t))
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("objects", nargs="+")
    ap.add_argument("--budget", type=int,
                    default=int(os.environ.get("BPF_STACK_BUDGET") or 384),
                    help="combined stack budget per program, bytes (default 384, or "
                         "$BPF_STACK_BUDGET)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every program's deepest call chain")
    ap.add_argument("--no-loop61", action="store_true", help="skip the Linux 6.1 loop check")
    args = ap.parse_args()

    failed = False
    for path in args.objects:
        base = os.path.basename(path)
        try:
            obj = BpfObject(path)
            progs = [f for f in obj.funcs if f.is_prog]
            chains = [(p, deepest_chain(p)) for p in progs]
        except (OSError, ValueError, struct.error) as err:
            print("bpfcheck: %s: %s" % (path, err), file=sys.stderr)
            return 2
        for prog, (total, chain) in chains:
            names = " -> ".join(f.name for f in chain)
            frames = ", ".join("%s %d" % (f.name, f.frame8) for f in chain)
            over = total > args.budget
            if over or args.verbose:
                verdict = "> budget %d" % args.budget if over else "ok (budget %d)" % args.budget
                if total > MAX_BPF_STACK:
                    verdict += ", the kernel refuses over %d" % MAX_BPF_STACK
                print("bpf stack: %s = %d bytes %s (%s) [%s]"
                      % (names, total, verdict, frames, base))
            if len(chain) > MAX_CALL_FRAMES:
                print("bpf stack: %s: %d frames, the kernel allows %d [%s]"
                      % (names, len(chain), MAX_CALL_FRAMES, base))
                over = True
            for depth, tchain in tail_call_problems(prog):
                print("bpf stack: %s: tail call with %d bytes of caller frames (6.1 refuses"
                      " 256 or more) [%s]" % (" -> ".join(f.name for f in tchain), depth, base))
                over = True
            failed |= over
        if not args.no_loop61:
            for prog in progs:
                problem = loop61_problem(obj, prog)
                if problem:
                    print("bpf loop (6.1): prog %s: %s [%s]" % (prog.name, problem, base))
                    failed = True
                elif args.verbose:
                    print("bpf loop (6.1): prog %s: ok [%s]" % (prog.name, base))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
