# Sourced by the benchmarks that need many sockets at once (snapshot.sh, scrape.sh), from the
# repository's top directory:
#   bench_enter NAME "$@"   root check, build what is missing, re-run the script in a private
#                           netns (TT_BENCH_INNER marks the second run)
#   hold_sockets N          N TCP sockets held by one process (tests/e2e/mksockets.c) until
#                           fd 3 closes; sets $dir (scratch), $helper (its pid), $count (ss's)
#   release_sockets         closes fd 3, waits for the holder, removes $dir
bench_enter() {
	bench_name=$1
	shift
	if [ "$(id -u)" -ne 0 ]; then
		echo "$bench_name bench: loads BPF and makes a network namespace: run as root" >&2
		exit 1
	fi
	if [ ! -x tcptrail ] || [ ! -x .output/e2e/mksockets ]; then
		make -s tcptrail .output/e2e/mksockets >/dev/null || exit 1
	fi
	if [ "$TT_BENCH_INNER" != 1 ]; then
		TT_BENCH_INNER=1 exec unshare -n sh "$0" "$@"
	fi
}

hold_sockets() {
	dir=$(mktemp -d) || exit 1
	ip link set lo up || exit 1
	mkfifo "$dir/hold"
	.output/e2e/mksockets "$1" 20000 <"$dir/hold" >"$dir/ready" &
	helper=$!
	exec 3>"$dir/hold"
	i=0
	until grep -q ready "$dir/ready" 2>/dev/null; do
		if ! kill -0 "$helper" 2>/dev/null; then
			echo "$bench_name bench: mksockets failed" >&2
			exit 1
		fi
		i=$((i + 1))
		[ $i -gt 1200 ] && { echo "$bench_name bench: mksockets timed out" >&2; exit 1; }
		sleep 0.1
	done
	count=$(ss -tanH | wc -l)
}

release_sockets() {
	exec 3>&-
	wait "$helper"
	rm -rf "$dir"
}
