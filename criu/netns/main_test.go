package netns

import (
	"fmt"
	"os"
	"testing"
)

// TestMain fails the run if the tests leave file descriptors open
// (namespace fds, seekable copies, pipes).
func TestMain(m *testing.M) {
	// Start the runtime's poller (an epoll fd and an eventfd) first.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	before := openFDs()
	code := m.Run()
	if after := openFDs(); code == 0 && after > before {
		fmt.Fprintf(os.Stderr, "fd leak: %d open before the tests, %d after\n", before, after)
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + e.Name())
			fmt.Fprintln(os.Stderr, e.Name(), l)
		}
		code = 1
	}
	os.Exit(code)
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}
