package crtest

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { os.Exit(RunWithFdCheck(m)) }

// The check catches a raw fd left open, names it and its target, and
// lets pass what is closed, closed late, or left by failed tests.
func TestCheckFds(t *testing.T) {
	var p [2]int
	tests := []struct {
		name     string
		run      func() int
		code     int
		want     []string // in the report
		teardown func()
	}{
		{name: "clean", run: func() int {
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			unix.Close(p[0])
			unix.Close(p[1])
			return 0
		}},
		{name: "leak", code: 1, run: func() int {
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			return 0
		}, want: []string{"fd leak: the tests left 2 file descriptor(s) open", "fd %[1]d -> pipe:[", "fd %[2]d -> pipe:["},
			teardown: func() { unix.Close(p[0]); unix.Close(p[1]) }},
		{name: "failed tests", code: 3, run: func() int {
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			return 3
		}, teardown: func() { unix.Close(p[0]); unix.Close(p[1]) }},
		{name: "closed late", run: func() int {
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			a, b := p[0], p[1]
			go func() {
				time.Sleep(100 * time.Millisecond)
				unix.Close(a)
				unix.Close(b)
			}()
			return 0
		}},
		{name: "dropped os.File", run: func() int {
			if _, err := os.Open("/dev/null"); err != nil {
				t.Fatal(err)
			}
			return 0
		}},
		{name: "replaced", code: 1, run: func() int {
			// p[0] is open before; the run puts another file at its
			// number.
			fd, err := unix.Open("/dev/zero", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Dup3(fd, p[0], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			unix.Close(fd)
			return 0
		}, want: []string{"fd %[1]d -> /dev/zero (was /dev/null)"}, teardown: func() { unix.Close(p[0]) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "replaced" {
				fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				p[0] = fd
			}
			var out bytes.Buffer
			code := checkFds(tt.run, &out, time.Second)
			if tt.teardown != nil {
				tt.teardown()
			}
			if code != tt.code {
				t.Errorf("code %d, want %d; report:\n%s", code, tt.code, &out)
			}
			for _, w := range tt.want {
				if strings.Contains(w, "%[") {
					w = fmt.Sprintf(w, p[0], p[1])
				}
				if !strings.Contains(out.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, &out)
				}
			}
			if len(tt.want) == 0 && out.Len() != 0 {
				t.Errorf("report:\n%s", &out)
			}
		})
	}
}

func TestOpenFds(t *testing.T) {
	fds, err := OpenFds()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	now, err := OpenFds()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fds[int(f.Fd())]; ok || now[int(f.Fd())] != "/dev/null" {
		t.Errorf("fd %d: before %q, after %q", f.Fd(), fds[int(f.Fd())], now[int(f.Fd())])
	}
}
