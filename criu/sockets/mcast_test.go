package sockets_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// TestMulticastRefused: a UDP socket that joined a multicast group on lo
// (IPv4, IPv6, an IPv4 group of an IPv6 socket) fails the dump naming
// the group, which the images cannot hold; the task runs on, still a
// member (testdata/mcastjoin.c hears the group, or cannot join again,
// after the dump).
func TestMulticastRefused(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "mcastjoin.c"), false)
	for _, tc := range []struct{ mode, want string }{
		{"v4", "0.0.0.0:"},
		{"v6", "[::]:"},
		{"mapped", "[::]:"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			group := "239.7.7.7 on lo"
			if tc.mode == "v6" {
				group = "ff15::7 on lo"
			}
			ready := filepath.Join(t.TempDir(), "ready")
			cmd := crtest.Start(t, bin, tc.mode, ready)
			pid := cmd.Process.Pid
			t.Cleanup(func() { crtest.Kill(pid) })
			crtest.WaitFor(t, ready, "READY", 10*time.Second)
			dir := t.TempDir()
			out, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(pid), "-D", dir)
			if err == nil {
				t.Fatalf("dump succeeded:\n%s", out)
			}
			want := "unsupported: the socket joined multicast group " + group + ", which the images cannot hold"
			if !strings.Contains(out, want) || !strings.Contains(out, "(socket:[") || !strings.Contains(out, tc.want) {
				t.Fatalf("dump failed without naming the socket, its address and %q:\n%s", want, out)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("the failed dump left %d files in the images dir", len(ents))
			}
			if !crtest.Alive(pid) {
				t.Fatal("the task did not survive the failed dump")
			}
			if err := unix.Kill(pid, unix.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			crtest.WaitFor(t, ready, "OK", 10*time.Second)
		})
	}
}
