package procfs

import (
	"os"
	"testing"
)

// NsInos reads what NsIno reads, kind by kind, and leaves out a kind the
// kernel does not have.
func TestNsInos(t *testing.T) {
	kinds := []string{"pid", "net", "mnt", "user", "time_for_children", "no-such-namespace"}
	for _, pid := range []int{0, os.Getpid()} {
		got, err := NsInos(pid, kinds)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kinds {
			want, err := NsIno(pid, k)
			ino, ok := got[k]
			if err != nil {
				if ok {
					t.Errorf("pid %d: %s: %d, NsIno fails (%v)", pid, k, ino, err)
				}
				continue
			}
			if !ok || ino != want {
				t.Errorf("pid %d: %s: %d (%v), NsIno %d", pid, k, ino, ok, want)
			}
		}
		if _, ok := got["no-such-namespace"]; ok {
			t.Errorf("pid %d: a namespace kind that does not exist was read", pid)
		}
	}
	if _, err := NsInos(1<<30, kinds); !os.IsNotExist(err) {
		t.Errorf("a task that does not exist: %v, want not-exist", err)
	}
}
