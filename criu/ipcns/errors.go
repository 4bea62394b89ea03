package ipcns

import "errors"

var (
	// ErrBadImage is returned by Restore for images whose contents
	// contradict each other or the kernel's limits.
	ErrBadImage = errors.New("bad IPC namespace image")
	// ErrNoMsgCopy is returned by Dump for a non-empty message queue when
	// the kernel cannot copy messages without removing them (msgrcv's
	// MSG_COPY needs CONFIG_CHECKPOINT_RESTORE).
	ErrNoMsgCopy = errors.New("kernel cannot copy queued messages (MSG_COPY needs CONFIG_CHECKPOINT_RESTORE)")
	// ErrIDTaken is returned by Restore when an object cannot get its
	// dumped id because the namespace already uses it or its key.
	ErrIDTaken = errors.New("id or key already in use in the namespace")
)
