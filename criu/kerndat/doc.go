// Package kerndat probes, once and by name, the kernel features that dump
// and restore rely on. `criu check` prints its report; dump and restore
// may consult it to fail early with a clear message.
//
// features.go answers CRIU's own feature names (`criu check --feature
// NAME`, --extra, --experimental, --all) for this criu: a name is
// supported only when the kernel has it and this build handles what it
// stands for, so that a caller (zdtm, runc, LXC) concludes rightly; the
// names this build does not handle say why (NotBuiltError).
package kerndat
