#!/bin/sh
# The kernel matrix's checks, run by /init in the guest (busybox sh; tests/kernels/matrix.sh
# builds the initramfs). Prints one "TT-RESULT NAME PASS|FAIL DETAIL" line per check, "TT-INFO"
# lines with what the tracer says about optional parts, "TT-TRACE" lines with the traced test
# connection, "TT-LOG" lines with the output of a failed step, then TT-DONE, and powers off,
# whatever happens.
set -eu
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
cd /

tracer=      # pid of the background tracer
ftracer=     # pid of the filtered tracer (check_filters)
holder_job=  # pid of the background "guest_traffic closewait"
finished=0
on_exit() {
	rc=$?
	[ "$finished" = 1 ] || echo "TT-LOG guest: guest.sh stopped early (status $rc)"
	echo "TT-DONE"
	sync
	poweroff -f
}
trap on_exit EXIT
trap 'exit 1' INT TERM

EVENTS_PORT=47101
STUCK_PORT=47102
ACCEPT_PORT=47103
IO_PORT=47104
FILTER_PORT=47105
REC=/tmp/rec.jsonl
FREC=/tmp/filtered.jsonl

# Each result says how long its check took.
result() {
	name=$1 verdict=$2
	shift 2
	now=$(date +%s)
	echo "TT-RESULT $name $verdict $* ($((now - since))s)"
	since=$now
}

# Prints the last lines of a file as TT-LOG lines (the console is all the host gets).
log_tail() {
	echo "TT-LOG $1: last lines of $2:"
	tail -n "${3:-25}" "$2" 2>/dev/null | sed "s/^/TT-LOG $1: /" || true
}

# Runs the command in "$@" every 0.5 s until it succeeds or $1 seconds passed.
poll() {
	tries=$(($1 * 2))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		tries=$((tries - 1))
		sleep 0.5
	done
	return 1
}

alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! alive "$1"; }

# A JSON record of the recording: type, pid and comm, then one more member each.
rec_has() {
	grep "\"type\":\"$1\"" "$REC" 2>/dev/null | grep "\"pid\":$2,\"comm\":\"$3\"" |
		grep "$4" | grep -q "$5"
}

# A text line of trace or replay output: PID COMM LOCAL FOREIGN OLD -> NEW (or STATE >> STUCK).
text_has() {
	awk -v pid="$2" -v comm="$3" -v addr="$4" -v old="$5" -v new="$6" '
		$2 == pid && $3 == comm && $7 == old && $9 == new &&
		($5 ~ addr || $6 ~ addr) { found = 1 }
		END { exit !found }' "$1"
}

tracing() { grep -q '^Tracing' /tmp/trace.err 2>/dev/null || ! alive "$tracer"; }

check_load() {
	./tcptrail -v -w "$REC" --stuck CLOSE_WAIT=2s >/tmp/trace.out 2>/tmp/trace.err &
	tracer=$!
	start=$(date +%s)
	poll 120 tracing || true
	secs=$(($(date +%s) - start))
	grep '^tcptrail: ' /tmp/trace.err | sed 's/^/TT-INFO /' || true
	if ! alive "$tracer"; then
		rc=0
		wait "$tracer" || rc=$?
		tracer=
		log_tail load /tmp/trace.err 40
		result load FAIL "tcptrail exited with $rc before tracing:" \
			"$(tail -n 1 /tmp/trace.err)"
		return
	fi
	if ! grep -q '^Tracing' /tmp/trace.err; then
		log_tail load /tmp/trace.err 40
		result load FAIL "no 'Tracing' line after ${secs}s"
		return
	fi
	# A part the kernel lacks is "off"; one it refused or that did not attach is a failure.
	if grep -q -e refused -e 'cannot attach' /tmp/trace.err; then
		grep -e refused -e 'cannot attach' /tmp/trace.err | sed 's/^/TT-LOG load: /'
		result load FAIL "tracing, but a BPF part was refused or not attached (${secs}s)"
		return
	fi
	# -v names what this kernel lacks: 6.1 has no bpf_task_from_pid (6.2); 6.12 has
	# everything (fexit for the accept hook and the send hook included).
	case "$(uname -r)" in
	6.1.*) expect_off="listeners handed on at exit" ;;
	*) expect_off="" ;;
	esac
	off=$(grep '^tcptrail: off on this kernel: ' /tmp/trace.err |
		sed 's/^tcptrail: off on this kernel: \([^(]*\) (.*/\1/; s/ *$//' | paste -sd'|' -)
	if [ "$off" != "$expect_off" ]; then
		result load FAIL "parts off on this kernel: '$off', expected '$expect_off'"
		return
	fi
	result load PASS "tracing after ${secs}s; off: ${off:-none}"
}

# Each part of the events check: the client's and the server's ESTABLISHED in the recording
# and on stdout, and the server's close (LAST_ACK -> CLOSE, cause closed) in the recording.
# The client's port (cport) comes from its ESTABLISHED record; the server's must name it.
ev_json_client() {
	rec_has state "$cpid" tt-client "\"rport\":$EVENTS_PORT," \
		'"old":"SYN_SENT","new":"ESTABLISHED"' &&
		cport=$(grep "\"pid\":$cpid,\"comm\":\"tt-client\"" "$REC" |
			grep '"old":"SYN_SENT","new":"ESTABLISHED"' |
			sed -n 's/.*"lport":\([0-9]*\),.*/\1/p' | head -n 1)
}
ev_json_server() {
	rec_has state "$spid" tt-server \
		"\"lport\":$EVENTS_PORT,\"raddr\":\"127.0.0.1\",\"rport\":${cport:-none}," \
		'"old":"SYN_RECV","new":"ESTABLISHED"'
}
ev_json_close() {
	rec_has state "$spid" tt-server "\"lport\":$EVENTS_PORT," \
		'"old":"LAST_ACK","new":"CLOSE",.*"cause":"closed"'
}
ev_text_client() {
	text_has /tmp/trace.out "$cpid" tt-client ":$EVENTS_PORT\$" SYN_SENT ESTABLISHED
}
ev_text_server() {
	text_has /tmp/trace.out "$spid" tt-server ":$EVENTS_PORT\$" SYN_RECV ESTABLISHED
}
EV_PARTS="ev_json_client ev_json_server ev_json_close ev_text_client ev_text_server"

# Check $1 runs guest_traffic ${3...} with its output in $2; false (the check failed, and
# said so) without a tracer or when the traffic failed.
traffic() {
	check=$1 out=$2
	shift 2
	if [ -z "$tracer" ]; then
		result "$check" FAIL "no tracer"
		return 1
	fi
	if ! guest_traffic "$@" >"$out" 2>&1; then
		log_tail "$check" "$out"
		result "$check" FAIL "guest_traffic $1 failed"
		return 1
	fi
}

events_seen() {
	for part in $EV_PARTS; do
		$part || return 1
	done
}

check_events() {
	traffic events /tmp/pair.out pair $EVENTS_PORT || return 0
	spid=$(sed -n 's/^server_pid=\([0-9]*\) .*/\1/p' /tmp/pair.out)
	cpid=$(sed -n 's/.* client_pid=\([0-9]*\)$/\1/p' /tmp/pair.out)
	if poll 30 events_seen; then
		# The connection's lines for the console log, to read how this kernel shows it.
		grep ":$EVENTS_PORT\\>" /tmp/trace.out | sed 's/^/TT-TRACE /' || true
		result events PASS "port $EVENTS_PORT: tt-client $cpid (port $cport)" \
			"SYN_SENT->ESTABLISHED, tt-server $spid SYN_RECV->ESTABLISHED (text and" \
			"JSON), LAST_ACK->CLOSE closed"
		return
	fi
	missing='' cport=''
	for part in $EV_PARTS; do
		$part || missing="$missing $part"
	done
	grep ":$EVENTS_PORT\\>" /tmp/trace.out | sed 's/^/TT-LOG events: /' || true
	grep "\"[lr]port\":$EVENTS_PORT," "$REC" | sed 's/^/TT-LOG events: /' || true
	result events FAIL "tt-client $cpid / tt-server $spid on port $EVENTS_PORT;" \
		"missing:$missing"
}

# The accept hook (fexit/inet_accept, which Debian's kernels allow): a pre-forked worker that
# accepted and did no socket I/O is named when the client's FIN puts its socket in CLOSE_WAIT;
# without the hook that event names the master, the listener's holder.
accept_seen() {
	rec_has state "$wpid" tt-worker "\"lport\":$ACCEPT_PORT," \
		'"old":"ESTABLISHED","new":"CLOSE_WAIT"'
}

check_accept() {
	traffic accept /tmp/prefork.out prefork $ACCEPT_PORT || return 0
	wpid=$(sed -n 's/.* worker_pid=\([0-9]*\)$/\1/p' /tmp/prefork.out)
	if poll 30 accept_seen; then
		result accept PASS "port $ACCEPT_PORT: ESTABLISHED->CLOSE_WAIT names tt-worker $wpid"
		return
	fi
	grep "\"lport\":$ACCEPT_PORT," "$REC" | sed 's/^/TT-LOG accept: /' || true
	result accept FAIL "ESTABLISHED->CLOSE_WAIT on port $ACCEPT_PORT does not name tt-worker $wpid"
}

# The I/O hooks (tcp:tcp_rcv_space_adjust; tcp:tcp_sendmsg_locked, a trampoline on tcp_sendmsg
# or sock:sock_send_length): the server's fork children each took over a connection, one only
# reads and one only writes, and the server closed its copies. The client's FIN puts both in
# CLOSE_WAIT; only the children's own I/O can name them there (else the event says "moved").
io_seen() {
	rec_has state "$iorpid" tt-handoff "\"lport\":$IO_PORT," \
		'"old":"ESTABLISHED","new":"CLOSE_WAIT"' &&
		rec_has state "$iowpid" tt-handoff "\"lport\":$IO_PORT," \
			'"old":"ESTABLISHED","new":"CLOSE_WAIT"'
}

check_io() {
	traffic io /tmp/handoff.out handoff $IO_PORT || return 0
	iorpid=$(sed -n 's/^reader_pid=\([0-9]*\) .*/\1/p' /tmp/handoff.out)
	iowpid=$(sed -n 's/.* sender_pid=\([0-9]*\)$/\1/p' /tmp/handoff.out)
	if poll 30 io_seen; then
		result io PASS "port $IO_PORT: ESTABLISHED->CLOSE_WAIT names the reading child" \
			"$iorpid and the writing child $iowpid"
		return
	fi
	grep "\"lport\":$IO_PORT," "$REC" | sed 's/^/TT-LOG io: /' || true
	result io FAIL "ESTABLISHED->CLOSE_WAIT on port $IO_PORT does not name the reader $iorpid" \
		"and the sender $iowpid"
}

# Starts a holder of a CLOSE_WAIT socket (for stuck and the snapshots): sets hpid.
start_holder() {
	hpid=
	guest_traffic closewait $STUCK_PORT 60 >/tmp/holder.out 2>&1 &
	holder_job=$!
	if poll 30 grep -q '^ready' /tmp/holder.out; then
		hpid=$(sed -n 's/^holder_pid=//p' /tmp/holder.out)
		return 0
	fi
	log_tail holder /tmp/holder.out
	return 1
}

stop_holder() {
	[ -n "$holder_job" ] || return 0
	if [ -n "$hpid" ]; then
		kill -USR1 "$hpid" 2>/dev/null || true
	fi
	wait "$holder_job" || echo "TT-LOG holder: guest_traffic closewait failed"
	holder_job=
}

# The alert names the holder in PID/COMM and, re-checked, as the holders (JSON: "owners").
stuck_seen() {
	rec_has stuck "$hpid" tt-holder "\"lport\":$STUCK_PORT," '"state":"CLOSE_WAIT"' &&
		rec_has stuck "$hpid" tt-holder "\"lport\":$STUCK_PORT," \
			"\"owners\":\[{\"pid\":$hpid,\"comm\":\"tt-holder\"}\]" &&
		awk -v pid="$hpid" -v port=":$STUCK_PORT\$" '
			$2 == pid && $3 == "tt-holder" && $5 ~ port && $7 == "CLOSE_WAIT" &&
			$8 == ">>" && $9 == "STUCK" && $NF == pid "/tt-holder" { found = 1 }
			END { exit !found }' /tmp/trace.out
}

check_stuck() {
	if [ -z "$hpid" ]; then
		result stuck FAIL "no CLOSE_WAIT socket (guest_traffic closewait failed)"
	elif [ -z "$tracer" ]; then
		result stuck FAIL "no tracer"
	elif poll 30 stuck_seen; then
		result stuck PASS "CLOSE_WAIT >> STUCK for $hpid/tt-holder on port $STUCK_PORT" \
			"(text and JSON)"
	else
		grep -e '"type":"stuck"' "$REC" | sed 's/^/TT-LOG stuck: /' || true
		grep 'STUCK' /tmp/trace.out | sed 's/^/TT-LOG stuck: /' || true
		if rec_has stuck "$hpid" tt-holder "\"lport\":$STUCK_PORT," \
			'"state":"CLOSE_WAIT"'; then
			result stuck FAIL "the alert names $hpid/tt-holder but not as its" \
				"re-checked holders (no owners list)"
		else
			result stuck FAIL "no stuck alert for $hpid/tt-holder on port $STUCK_PORT"
		fi
	fi
}

# snapshot -anp lists the held socket: 127.0.0.1:PORT ... CLOSE_WAIT PID/tt-holder
check_snapshot() {
	name=$1
	if [ -z "$hpid" ]; then
		result "$name" FAIL "no CLOSE_WAIT socket (guest_traffic closewait failed)"
		return
	fi
	rc=0
	./tcptrail snapshot -anp >/tmp/"$name".out 2>/tmp/"$name".err || rc=$?
	if [ "$rc" != 0 ]; then
		./tcptrail snapshot -anp -v >/dev/null 2>/tmp/"$name".err || true
		log_tail "$name" /tmp/"$name".err 40
		result "$name" FAIL "snapshot exited with $rc: $(tail -n 1 /tmp/"$name".err)"
	elif awk -v row="127.0.0.1:$STUCK_PORT" -v who="$hpid/tt-holder" '
		$4 == row && $6 == "CLOSE_WAIT" && $7 == who { found = 1 }
		END { exit !found }' /tmp/"$name".out; then
		result "$name" PASS "CLOSE_WAIT row with $hpid/tt-holder ($2)"
	else
		log_tail "$name" /tmp/"$name".out
		result "$name" FAIL "no CLOSE_WAIT row for $hpid/tt-holder on port $STUCK_PORT ($2)"
	fi
}

# The lines of the events check's connection (and its listener).
port_lines() {
	grep ":$EVENTS_PORT\\>" "$1" || true
}

replayed() {
	text_has /tmp/replay.out "$1" "$2" ":$EVENTS_PORT\$" "$3" ESTABLISHED
}

check_replay() {
	if [ -z "$tracer" ]; then
		result replay FAIL "no tracer"
		return
	fi
	kill -INT "$tracer"
	poll 30 gone "$tracer" || kill -KILL "$tracer" 2>/dev/null || true
	rc=0
	wait "$tracer" || rc=$?
	tracer=
	tail -n 1 /tmp/trace.err | sed 's/^/TT-INFO /'
	if [ "$rc" != 0 ]; then
		log_tail replay /tmp/trace.err
		result replay FAIL "the tracer exited with $rc after SIGINT"
		return
	fi
	rc=0
	./tcptrail replay "$REC" >/tmp/replay.out 2>/tmp/replay.err || rc=$?
	port_lines /tmp/replay.out >/tmp/replay.port
	if [ "$rc" != 0 ]; then
		log_tail replay /tmp/replay.err
		result replay FAIL "replay exited with $rc"
	elif ! replayed "$cpid" tt-client SYN_SENT || ! replayed "$spid" tt-server SYN_RECV; then
		grep ":$EVENTS_PORT\\>" /tmp/replay.out | sed 's/^/TT-LOG replay: /' || true
		result replay FAIL "port $EVENTS_PORT's ESTABLISHED lines missing from the replay"
	elif ! port_lines /tmp/trace.out | cmp -s - /tmp/replay.port; then
		port_lines /tmp/trace.out | sed 's/^/TT-LOG replay: traced: /' || true
		sed 's/^/TT-LOG replay: replayed: /' /tmp/replay.port
		result replay FAIL "port $EVENTS_PORT's lines differ from the traced ones"
	else
		result replay PASS "$(grep -c '' "$REC") records; port $EVENTS_PORT's" \
			"$(grep -c '' /tmp/replay.port) lines as traced"
	fi
}

# --netns and --cgroup, which the state handler and the start-up walk ask before anything
# else: a second tracer, both filters naming where the guest's traffic is, traces a connection
# in full.
filtered_seen() {
	grep "\"rport\":$FILTER_PORT," "$FREC" 2>/dev/null |
		grep -q '"old":"SYN_SENT","new":"ESTABLISHED"' &&
		grep "\"lport\":$FILTER_PORT," "$FREC" | grep -q '"old":"LAST_ACK","new":"CLOSE"'
}

ftracing() { grep -q '^Tracing' /tmp/filtered.err 2>/dev/null || ! alive "$ftracer"; }

check_filters() {
	ns=$(stat -L -c %i /proc/self/ns/net)
	cg=''
	[ -e /sys/fs/cgroup/cgroup.procs ] && cg='--cgroup /'
	# shellcheck disable=SC2086 # $cg is two words or none
	./tcptrail -q -w "$FREC" --netns "$ns" $cg 2>/tmp/filtered.err &
	ftracer=$!
	poll 120 ftracing || true
	if ! alive "$ftracer" || ! grep -q '^Tracing' /tmp/filtered.err; then
		log_tail filters /tmp/filtered.err
		result filters FAIL "tcptrail --netns $ns $cg did not trace:" \
			"$(tail -n 1 /tmp/filtered.err)"
	elif ! guest_traffic pair $FILTER_PORT >/tmp/fpair.out 2>&1; then
		log_tail filters /tmp/fpair.out
		result filters FAIL "guest_traffic pair failed"
	elif poll 30 filtered_seen; then
		result filters PASS "--netns $ns ${cg:-(no cgroup2)}: port $FILTER_PORT's" \
			"SYN_SENT->ESTABLISHED and LAST_ACK->CLOSE"
	else
		grep "port\":$FILTER_PORT," "$FREC" | sed 's/^/TT-LOG filters: /' || true
		result filters FAIL "--netns $ns $cg: port $FILTER_PORT's connection missing"
	fi
	if alive "$ftracer"; then
		kill -INT "$ftracer"
		wait "$ftracer" || true
	fi
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || echo "TT-INFO guest: no tracefs"
mount -t cgroup2 cgroup2 /sys/fs/cgroup || echo "TT-INFO guest: no cgroup2"
mount -t bpf bpf /sys/fs/bpf || echo "TT-INFO guest: no bpffs"
ip link set lo up
# A line of its own: the firmware's last line on the console has no end.
printf '\nTT-KERNEL %s\n' "$(uname -r)"
[ -e /proc/config.gz ] && echo "TT-INFO guest: the kernel has /proc/config.gz"

spid='' cpid='' cport='' hpid='' iorpid='' iowpid=''
since=$(date +%s)
check_load
check_events
check_accept
check_io
check_filters
start_holder || true
check_stuck
check_snapshot snapshot-noconfig "no kernel config file"
mkdir -p /boot
cp /kconfig "/boot/config-$(uname -r)"
check_snapshot snapshot-config "with /boot/config-$(uname -r)"
stop_holder
check_replay
finished=1
