package restore

import "github.com/criugo/criu/criu/errdefs"

// The restore's refusals, shared with the object packages (criu/errdefs).
var (
	ErrPidTaken    = errdefs.ErrPidTaken
	ErrBadImage    = errdefs.ErrBadImage
	ErrUnsupported = errdefs.ErrUnsupported
)
