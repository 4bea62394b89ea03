package dump

import "github.com/criugo/criu/criu/errdefs"

// The dump's refusals, shared with the object packages (criu/errdefs).
var (
	ErrUnsupported    = errdefs.ErrUnsupported
	ErrNoTask         = errdefs.ErrNoTask
	ErrShellJob       = errdefs.ErrShellJob
	ErrBadParent      = errdefs.ErrBadParent
	ErrTCPEstablished = errdefs.ErrTCPEstablished
	ErrFileLocks      = errdefs.ErrFileLocks
	ErrUnreachable    = errdefs.ErrUnreachable
	ErrOutside        = errdefs.ErrOutside
)

type (
	// FdError names the file descriptor dump could not save.
	FdError = errdefs.FdError
	// VmaError names the mapping dump could not save.
	VmaError = errdefs.VmaError
)
