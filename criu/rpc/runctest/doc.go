// Package runctest holds only tests: they checkpoint and restore real
// runc containers (a busybox rootfs built in the test, `runc spec`, a
// counter) with `runc --criu PATH`, so that runc drives our criu swrk
// exactly as it drives CRIU, and the same scenario runs again with
// CRIU 4.2 when it is installed. Each test skips only when runc or a
// static busybox is not installed.
package runctest
