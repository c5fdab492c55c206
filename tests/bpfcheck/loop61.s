# bpfcheck self-test fixture: loop shapes Linux 6.1's check_cfg() accepts or refuses
# (assembled by `make bpfcheck-test`, never loaded).

	.text
# A subprogram holding the refused shape; it reaches it through a static (pc-relative) call.
	.globl	subloop
	.type	subloop,@function
subloop:
	r6 = r1
	call	inner
	r0 = 0
	r1 = 0
	goto	.Ls_head
.Ls_body:
	r1 += 1			# falls through into the loop head: refused by 6.1
.Ls_head:
	r3 = *(u64 *)(r6 + 0)
	if r3 != 0 goto .Ls_body
	exit
.Ls_end:
	.size	subloop, .Ls_end-subloop

	.type	inner,@function
inner:
	r0 = 0
	exit
.Linner_end:
	.size	inner, .Linner_end-inner

# clang's layout of a search loop: the loop is entered at its head by a goto, and the body's
# last instruction falls through into the head, which 6.1 calls a back-edge.
	.section	"tp_btf/fallthru","ax",@progbits
	.globl	fallthru
	.type	fallthru,@function
fallthru:
	r1 = 0
	r2 = r10
	goto	.Lf_head
.Lf_body:
	r2 += -8
	r1 += 1
.Lf_head:
	r3 = *(u64 *)(r10 - 8)
	if r3 != 0 goto .Lf_body
	r0 = 0
	exit
.Lf_end:
	.size	fallthru, .Lf_end-fallthru

# The same loop closed by the conditional jump itself: allowed.
	.section	"tp_btf/condloop","ax",@progbits
	.globl	condloop
	.type	condloop,@function
condloop:
	r1 = 0
.Lc_head:
	r1 += 1
	if r1 < 8 goto .Lc_head
	r0 = 0
	exit
.Lc_end:
	.size	condloop, .Lc_end-condloop

# Closed by a goto: allowed.
	.section	"tp_btf/jaloop","ax",@progbits
	.globl	jaloop
	.type	jaloop,@function
jaloop:
	r1 = 0
.Lj_head:
	r1 += 1
	if r1 > 8 goto .Lj_out
	goto	.Lj_head
.Lj_out:
	r0 = 0
	exit
.Lj_end:
	.size	jaloop, .Lj_end-jaloop

# The refused shape inside a subprogram, named where libbpf's layout puts it.
	.section	"tp_btf/viasub","ax",@progbits
	.globl	viasub
	.type	viasub,@function
viasub:
	r0 = 0
	if r1 == 0 goto .Lv_out
	call	subloop
.Lv_out:
	exit
.Lv_end:
	.size	viasub, .Lv_end-viasub
