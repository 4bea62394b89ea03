// Package kerndat probes, once and by name, the kernel features that dump
// and restore rely on. `criu check` prints its report; dump and restore
// may consult it to fail early with a clear message.
package kerndat
