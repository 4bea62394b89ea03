// Package mem reads and writes another process's memory: the pagemap walk
// that says which pages hold data, process_vm_readv/writev with big iovec
// batches, and /proc/PID/mem for mappings without write permission.
package mem
