package netns

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrUnsupportedLink is returned by Dump for a link kind that
	// Restore cannot recreate (bridge, macvlan, tun...).
	ErrUnsupportedLink = errors.New("unsupported link kind")
	// ErrNoVethPeer is returned by Restore for a veth link whose peer was
	// outside the namespace and that has no entry in RestoreOptions.Veth
	// (CRIU's --external veth[IF]:OUT[@BRIDGE]).
	ErrNoVethPeer = errors.New("veth link has no external peer name")
	// ErrBadExternal is returned by ParseExternal for a malformed veth
	// spec.
	ErrBadExternal = errors.New("bad external veth spec")
	// ErrBadImage is returned for a links image that cannot be decoded.
	ErrBadImage = errors.New("bad network image")
)

// ToolError is a failed run of the ip tool. Its message carries the
// tool's stderr.
type ToolError struct {
	Args   []string // arguments after the program name
	Stderr string
	Err    error // from exec: *exec.ExitError, or a start failure
}

func (e *ToolError) Error() string {
	msg := fmt.Sprintf("ip %s: %v", strings.Join(e.Args, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *ToolError) Unwrap() error { return e.Err }
