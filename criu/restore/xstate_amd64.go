package restore

import (
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
)

// xstateFromImage turns the core image's fpregs into the NT_X86_XSTATE
// regset to set; the layout lives in ptrace, next to the regset.
func xstateFromImage(fp *images.UserX86FpregsEntry) []byte {
	return ptrace.XstateFromFpregs(fp)
}
