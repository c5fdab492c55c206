/*
 * bpfcheck self-test fixture: call chains with known frames (compiled by `make bpfcheck-test`,
 * never loaded). No headers: the two helpers are declared by number.
 */
typedef unsigned long long u64;

static long (*probe_read_kernel)(void *dst, unsigned int size, const void *src) = (void *)113;
static long (*bpf_loop)(unsigned int nr, void *cb, void *ctx, u64 flags) = (void *)181;

#define PROG(sec) __attribute__((section(sec), used))

/* A subprogram with a ~200-byte frame. */
__attribute__((noinline)) int big_sub(const void *p)
{
	char buf[200];

	probe_read_kernel(buf, sizeof(buf), p);
	return buf[0] + buf[199];
}

/* ~200 + ~200 bytes: over a 384 budget, under the kernel's 512. */
PROG("tp_btf/over") int over(void *ctx)
{
	char buf[192];

	probe_read_kernel(buf, sizeof(buf), ctx);
	return big_sub(ctx) + buf[5];
}

/* A small frame calling the same subprogram: within budget. */
PROG("tp_btf/small") int small(void *ctx)
{
	return big_sub(ctx);
}

/* A bpf_loop callback's frame stacks on its caller's like a call's. */
static int cb(unsigned int i, void *ctx)
{
	char buf[200];

	probe_read_kernel(buf, sizeof(buf), ctx);
	return buf[i & 63] != 0;
}

PROG("tp_btf/viacb") int viacb(void *ctx)
{
	char buf[192];

	probe_read_kernel(buf, sizeof(buf), ctx);
	bpf_loop(4, cb, buf, 0);
	return buf[7];
}

char LICENSE[] PROG("license") = "GPL";
