package netlock

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrMethod is returned by ParseMethod for an unknown method.
	ErrMethod = errors.New("unknown network lock method")
	// ErrNoTool is returned when neither nft nor iptables-restore can
	// be found for a lock that needs one.
	ErrNoTool = errors.New("no nft or iptables-restore to lock the network (--network-lock skip: no lock)")
	// ErrBadRecord is returned for a lock record that cannot be decoded.
	ErrBadRecord = errors.New("bad network lock record")
)

// ToolError is a failed run of nft or iptables-restore; its message
// carries the tool's stderr.
type ToolError struct {
	Tool   string
	Stderr string
	Err    error // from exec: *exec.ExitError, or a start failure
}

func (e *ToolError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Tool, e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *ToolError) Unwrap() error { return e.Err }
