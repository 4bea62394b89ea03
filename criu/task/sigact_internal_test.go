package task

import (
	"errors"
	"testing"

	"github.com/criugo/criu/criu/errdefs"
)

// CRIU's images hold 62 sigactions (no SIGKILL, no SIGSTOP): entry 8 is
// SIGUSR1 (10) there, and the last SIGRTMAX (64); older images of this
// tool hold 64, one per signal.
func TestSigactionSignals(t *testing.T) {
	s, err := sigactionSignals(62)
	if err != nil || len(s) != 62 || s[7] != 8 || s[8] != 10 || s[16] != 18 || s[17] != 20 || s[61] != 64 {
		t.Fatalf("62: %v %v", s, err)
	}
	s, err = sigactionSignals(64)
	if err != nil || len(s) != 64 || s[8] != 9 || s[63] != 64 {
		t.Fatalf("64: %v %v", s, err)
	}
	if _, err := sigactionSignals(63); !errors.Is(err, errdefs.ErrBadImage) {
		t.Fatalf("63: %v", err)
	}
}
