#!/usr/bin/env bash
# Live migration on one machine: a counter process moves from a "source
# host" to a "target host", two network namespaces joined by a veth pair.
# Its images travel criu dump --remote -> image-proxy (source netns) ==TCP==>
# image-cache (target netns) -> criu restore --remote, and never touch disk.
# Then the same for a container: the counter as pid 1 of its own pid, net,
# uts, ipc and mount namespaces, which restore recreates.
# Needs root. Cleans up after itself, also when interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
CRIU=${CRIU:-$PWD/bin/criu}
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it makes network namespaces and ptraces)" >&2; exit 1; }

work=$(mktemp -d /tmp/criu-demo.XXXXXX)
src=criu-demo-src-$$ dst=criu-demo-dst-$$
pids=()  # daemons and helpers: SIGTERM at the end
tasks=() # workloads: SIGKILL (a pid-namespace init ignores SIGTERM from outside)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
	set +e
	for p in "${tasks[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$src" 2>/dev/null
	ip netns del "$dst" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "two hosts: netns $src (198.18.0.1) and $dst (198.18.0.2), joined by veth"
ip netns add "$src"
ip netns add "$dst"
ip link add demo-veth0 netns "$src" type veth peer name demo-veth1 netns "$dst"
ip -n "$src" addr add 198.18.0.1/30 dev demo-veth0
ip -n "$dst" addr add 198.18.0.2/30 dev demo-veth1
for n in "$src" "$dst"; do ip -n "$n" link set lo up; done
ip -n "$src" link set demo-veth0 up
ip -n "$dst" link set demo-veth1 up

# start_daemon NETNS NAME ARGS...: starts a daemon and waits for the byte
# it writes on --status-fd when it is ready.
start_daemon() {
	local ns=$1 name=$2; shift 2
	mkfifo "$work/$name.ready"
	ip netns exec "$ns" "$CRIU" "$name" "$@" --status-fd 3 -o "$work/$name.log" 3>"$work/$name.ready" &
	pids+=($!)
	if ! timeout 10 head -c1 "$work/$name.ready" >/dev/null; then
		echo "demo: $name did not become ready; its log:" >&2
		cat "$work/$name.log" >&2
		exit 1
	fi
	echo "$name ready (pid ${pids[-1]})"
}

say "target host: criu image-cache on 198.18.0.2:27027"
# --insecure: plain TCP between the two namespaces (the README shows TLS).
start_daemon "$dst" image-cache --address 198.18.0.2 --port 27027 \
	--local-socket "$work/cache.sock" --keep --insecure
say "source host: criu image-proxy forwarding to 198.18.0.2:27027"
start_daemon "$src" image-proxy --address 198.18.0.2 --port 27027 \
	--local-socket "$work/proxy.sock" --insecure

gcc -O2 -o "$work/counter" demo/counter.c

# spawn CMD...: starts CMD with only stdio: a descriptor inherited from
# whoever runs the demo would be part of its state (dump refuses what it
# cannot take). Sets $spawned to its pid.
spawn() {
	(
		for fd in /proc/self/fd/*; do
			n=${fd##*/}
			[ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null
		done
		exec "$@" </dev/null >/dev/null 2>&1
	) &
	spawned=$!
	disown "$spawned" # bash still reaps it, without a "Killed" job notice
	tasks+=("$spawned")
}

# migrate NAME TASK TICKS: dumps TASK through the proxy, restores it from
# the cache and checks that the ticks in TICKS carry on without a gap.
migrate() {
	local name=$1 task=$2 ticks=$3
	say "criu dump --remote: freeze, stream every image through proxy and cache, kill"
	"$CRIU" dump --remote --remote-socket "$work/proxy.sock" -D "$work/$name" \
		-t "$task" -o "$work/$name-dump.log" -v2
	frozen=$(grep -o 'frozen=[0-9.]*' "$work/$name-dump.log" | tail -n1 | cut -d= -f2)
	echo "dump done: the task was frozen ${frozen} ms"
	"$CRIU" image-cache --list --local-socket "$work/cache.sock" 2>&1 | sed 's/^/image-cache holds: /'
	echo "ticks while the task was gone:"; sleep 1; tail -n 1 "$ticks"

	say "criu restore --remote: rebuild it from the cache's images"
	"$CRIU" restore --remote --remote-socket "$work/cache.sock" -D "$work/$name" \
		--pidfile "$work/$name.pid" -o "$work/$name-restore.log" -v2 &
	pids+=($!)
	for _ in $(seq 50); do [ -s "$work/$name.pid" ] && break; sleep 0.1; done
	[ -s "$work/$name.pid" ] || { echo "demo: restore failed:" >&2; cat "$work/$name-restore.log" >&2; exit 1; }
	tasks+=("$(cat "$work/$name.pid")")
	echo "restored as host pid $(cat "$work/$name.pid") (it was $task)"
	sleep 2
	say "it carries on: same pid (as seen inside), no gap"
	tail -n 5 "$ticks"
	awk '{ if (NR != $2) { print "GAP: line " NR " says tick " $2; bad = 1 } }
	     END { if (!bad) print "ticks 1.." NR " all there, in order"; exit bad }' "$ticks"
}

say "the workload: a counter appending a tick every 200 ms to $work/ticks"
spawn "$work/counter" "$work/ticks"
sleep 2
tail -n 3 "$work/ticks"
migrate snapshot "$spawned" "$work/ticks"

say "a container: the counter as pid 1 of its own pid, net, uts, ipc and mount namespaces, host name web1"
# unshare stays outside and waits; its child is the container's init.
spawn unshare --pid --net --uts --ipc --mount --fork "$work/counter" "$work/cticks" web1
for _ in $(seq 50); do
	# read, a builtin: Ctrl-C in a $(...) subshell would be swallowed.
	init=
	read -r init 2>/dev/null <"/proc/$spawned/task/$spawned/children" || true
	[ -n "$init" ] && [ -s "$work/cticks" ] && break
	sleep 0.1
done
[ -n "$init" ] || { echo "demo: the container did not start" >&2; exit 1; }
tasks+=("$init")
sleep 2
echo "its init is host pid $init; inside it says:"
tail -n 3 "$work/cticks"
migrate container "$init" "$work/cticks"
say "done; cleaning up"
