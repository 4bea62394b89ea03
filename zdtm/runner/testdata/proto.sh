#!/bin/sh
# A zdtm-protocol test in shell: writes --result (default PASS) to the
# outfile on SIGTERM. --early=N exits with status N before being ready.
result=PASS
for a; do
	case $a in
	--pidfile=*) pidfile=${a#--pidfile=} ;;
	--outfile=*) outfile=${a#--outfile=} ;;
	--result=*) result=${a#--result=} ;;
	--early=*) echo "failing early" >&2; exit ${a#--early=} ;;
	*) echo "unknown option $a" >&2; exit 2 ;;
	esac
done
sh -c 'trap "echo \"\$1\" >> \"\$2\"; exit 0" TERM; echo $$ > "$3.tmp"; mv "$3.tmp" "$3"; while :; do sleep 0.02; done' \
	proto "$result" "$outfile" "$pidfile" </dev/null >/dev/null 2>&1 &
while [ ! -s "$pidfile" ]; do sleep 0.01; done
exit 0
