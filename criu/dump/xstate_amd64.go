package dump

import (
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
)

// fpregsFromXstate turns a thread's NT_X86_XSTATE regset into the core
// image's fpregs; the layout lives in ptrace, next to the regset.
func fpregsFromXstate(b []byte) *images.UserX86FpregsEntry {
	return ptrace.FpregsFromXstate(b)
}
