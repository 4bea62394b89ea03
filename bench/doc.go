// Package bench holds `make bench`'s side-by-side benchmark: each
// workload dumped and restored by this project's criu and by CRIU 4.2
// (../shared/tools/criu-4.2/criu, or $CRIU42), alternately, in one run,
// with a table of medians and their ratio (vs_test.go). It has no
// non-test code.
package bench
