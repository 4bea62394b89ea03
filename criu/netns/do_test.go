package netns

import (
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Do runs f inside the namespace (a socket made there is the
// namespace's: binding the namespace's own address works), passes f's
// error through, and leaves no thread of this process in the namespace.
func TestDo(t *testing.T) {
	requireNet(t)
	n := newTestNS(t, "do")
	n.ip(t, "addr", "add", "198.18.9.1/32", "dev", "lo")
	n.ip(t, "link", "set", "lo", "up")
	own, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	bind := func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{198, 18, 9, 1}})
	}
	if err := n.ns.Do(bind); err != nil {
		t.Errorf("bind 198.18.9.1 inside the namespace: %v", err)
	}
	if err := bind(); err == nil {
		t.Errorf("bind 198.18.9.1 outside the namespace worked")
	}
	sentinel := errors.New("from f")
	if err := n.ns.Do(func() error { return sentinel }); err != sentinel {
		t.Errorf("Do returned %v, want f's error", err)
	}
	// The threads that ran f are ended by the runtime once Do returns,
	// not before: wait a little for them to go.
	var left []string
	for i := 0; i < 100; i++ {
		left = nil
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if l, err := os.Readlink("/proc/self/task/" + e.Name() + "/ns/net"); err == nil && l != own {
				left = append(left, e.Name()+" in "+l)
			}
		}
		if len(left) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("threads left in the namespace: %v", left)
	}
	closed, err := Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := closed.Do(func() error { return nil }); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Do on a closed namespace: %v", err)
	}
}
