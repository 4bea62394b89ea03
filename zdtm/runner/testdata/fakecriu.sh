#!/bin/sh
# A stand-in for criu: the image daemons become ready and wait for
# SIGTERM; dump logs an error and fails (after killing nothing).
cmd=$1
shift
log=
while [ $# -gt 0 ]; do
	case $1 in
	--log-file|-o) log=$2; shift ;;
	--pidfile) pidfile=$2; shift ;;
	esac
	shift
done
case $cmd in
image-cache|image-proxy)
	[ -n "$pidfile" ] && echo $$ > "$pidfile"
	echo "12:00:00.000000 INF $cmd ready" >> "$log"
	trap 'echo "12:00:00.000000 INF $cmd stops" >> "$log"; exit 0' TERM
	printf R >&3
	exec 3>&-
	while :; do sleep 0.02; done
	;;
dump|pre-dump)
	echo "12:00:00.000000 DBG freezing" >> "$log"
	echo "12:00:00.000000 ERR fake dump failure: seize: operation not permitted" >> "$log"
	echo "criu $cmd: fake dump failure" >&2
	exit 1
	;;
*)
	echo "fake criu: $cmd not supported" >&2
	exit 1
	;;
esac
