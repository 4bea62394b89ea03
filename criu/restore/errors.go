package restore

import "errors"

var (
	// ErrPidTaken: a process or thread already has the dumped pid or tid.
	ErrPidTaken = errors.New("pid is taken")
	// ErrBadImage: the images are inconsistent.
	ErrBadImage = errors.New("bad image")
	// ErrUnsupported: the images hold something restore cannot rebuild.
	ErrUnsupported = errors.New("unsupported")
)
