// Package pageio moves page data between a task's memory and a
// pages-N.img. Dump: runs of the task's pages read with
// process_vm_readv, or /proc/PID/mem where the mapping may not be read,
// while the previous buffer is written to the image, or straight into
// an image mapped and populated before the freeze (Image). Restore: a local
// image in memory mapped (MapImage) so that its bytes go from the page
// cache into the task with no read in between, and the writers that
// copy batches into the task on every core at once (Writers). The
// buffers both directions share (GetBuf, PutBuf), and whether the
// kernel gives huge pages on a fault (HugeOnFault). Which pages are
// copied, and where they go, is package mm's: this package knows runs
// of addresses and byte streams, not mappings or pagemaps.
package pageio
