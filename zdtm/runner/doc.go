// Package runner runs zdtm tests: programs that speak the classic zdtm
// protocol (started as `NAME --pidfile=F --outfile=O [args]`, they
// daemonize, write their pid to F when ready, wait for SIGTERM, check
// that their state survived and write PASS or "FAIL: why" to O), with
// or without a checkpoint and restore by the criu binary in between.
//
// The runner is a child subreaper: a dumped task's zombie and every
// orphan of a test are re-parented to it and reaped by it, so the PID of
// a dumped task is free again for a same-PID restore. Because it reaps
// with wait4(-1, __WALL), the process that uses this package must start
// its children only through this package (never with os/exec while a
// Runner exists): the reaper would take their exit status.
//
// Flavors (Options.Flavor): "h" runs a test in the runner's namespaces;
// "ns" tells it (ZDTM_FLAVOR=ns) to be pid 1 of new pid, net, uts, ipc and
// mount namespaces, and checks after start and after each restore that it
// is (ns_linux.go). criu is called the same way in both. "ct" is ns in a
// container: the runner lays out a rootfs, the test pivot_roots into it,
// and criu is given the container's binds and root as runc gives them
// (ct_linux.go).
//
// Layout of a run, under Options.DumpRoot (default ZDTM_DIR/dump):
//
//	NAME/                       one directory per test name (static/env00); a new
//	                            run of the test replaces the previous one; the ns
//	                            and ct flavors' are under ns/ and ct/ (ns/static/env00)
//	  NAME.pid NAME.out         the protocol's pidfile and outfile
//	  start.log                 what the test printed before daemonizing
//	  work/                     the test's current directory
//	  PID/N/                    the images and logs of dump (or pre-dump) N
//	    dump.log restore.log    criu's logs (-v4)
//	    criu-dump.out ...       criu's own stdout and stderr
//	  PID/remote/{cache,proxy}  the image daemons' dirs and logs (--remote)
//	  root/ ext/                the ct flavor's rootfs and its extra bind's source
package runner
