// Package pageio moves page data between a task's memory and a
// pages-N.img: the dump's copier (Dump: runs of the task's pages read
// with process_vm_readv, or /proc/PID/mem where the mapping may not be
// read, while the previous buffer is written to the image) and the
// buffers both directions share (GetBuf, PutBuf). Which pages are
// copied, and where they go, is package mm's: this package knows runs
// of addresses and byte streams, not mappings or pagemaps.
package pageio
