package timens

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/image"
)

func TestParseOffsets(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Offsets
		bad  bool
	}{
		{"monotonic           0         0\nboottime            0         0\n", Offsets{}, false},
		{"monotonic         -12 818845056\nboottime        86400         5\n", Offsets{-12*time.Second + 818845056, 86400*time.Second + 5}, false},
		{"1 7 0\n7 -1 999999999\n", Offsets{7 * time.Second, -1}, false},
		{"monotonic 0 0\n", Offsets{}, true},
		{"monotonic 0 1000000000\nboottime 0 0\n", Offsets{}, true},
		{"realtime 0 0\nmonotonic 0 0\nboottime 0 0\n", Offsets{}, true},
		{"monotonic 0\nboottime 0 0\n", Offsets{}, true},
	} {
		got, err := parseOffsets([]byte(c.in))
		if c.bad {
			if err == nil {
				t.Errorf("%q: no error", c.in)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestFormatOffsetRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, 1, -1, -time.Second, -1500 * time.Millisecond, 86400*time.Second + 3} {
		m := formatOffset(1, d)
		b := formatOffset(7, -d)
		got, err := parseOffsets([]byte(m + b))
		if err != nil || got.Monotonic != d || got.Boottime != -d {
			t.Errorf("%v: %q%q parses as %v, %v", d, m, b, got, err)
		}
	}
}

// TestEnter sets the offsets of a new time namespace that a helper
// process made for its children, as restore does for the stub, and
// checks that a child of the helper sees the clocks given (its /proc/uptime and its
// namespace's offsets), then that Dump of the child saves its clocks.
func TestEnter(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_TIME, CAP_SYS_ADMIN)")
	}
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("no time namespaces")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=cat /proc/uptime; cat /proc/self/timens_offsets; echo $$; read y")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}()
	pid := cmd.Process.Pid
	r := bufio.NewReader(outp)
	line := func() string {
		s, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read the helper's output: %v", err)
		}
		return strings.TrimSpace(s)
	}
	if s := line(); s != "ready" {
		t.Fatalf("helper: %s", s)
	}
	want := Offsets{Monotonic: 1000*time.Hour + 7*time.Second, Boottime: 2000 * time.Hour}
	if err := SetOffsets(pid, want); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "go\n")
	up, err := strconv.ParseFloat(strings.Fields(line())[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(up*float64(time.Second)) - want.Boottime; d < -time.Second || d > 10*time.Second {
		t.Errorf("child's uptime %.2fs, want %v and a little", up, want.Boottime)
	}
	offs, err := parseOffsets([]byte(line() + "\n" + line() + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := hostClocks()
	if d := offs.Monotonic + h.Monotonic - want.Monotonic; d < 0 || d > 10*time.Second {
		t.Errorf("child's monotonic clock is %v, want %v and a little", offs.Monotonic+h.Monotonic, want.Monotonic)
	}
	child, err := strconv.Atoi(line())
	if err != nil {
		t.Fatal(err)
	}
	// A second write fails: a task is in the namespace now.
	if err := SetOffsets(pid, want); err == nil {
		t.Error("offsets written after a task entered the namespace")
	}
	dir, err := image.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	ctx := context.Background()
	if err := Dump(ctx, dir, child, 5, zerolog.New(zerolog.NewTestWriter(t))); err != nil {
		t.Fatal(err)
	}
	got, err := load(ctx, dir, 5)
	if err != nil || got == nil {
		t.Fatal(got, err)
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{{"monotonic", got.Monotonic, want.Monotonic}, {"boottime", got.Boottime, want.Boottime}} {
		if d := c.got - c.want; d < 0 || d > 10*time.Second {
			t.Errorf("dumped %s %v, want %v and a little", c.name, c.got, c.want)
		}
	}
	if c, err := load(ctx, dir, 0); c != nil || err != nil {
		t.Errorf("load of a missing timens-0.img: %v, %v; want no clocks, no error", c, err)
	}
	if _, err := load(ctx, dir, 6); err == nil {
		t.Error("Load of a missing timens-6.img: no error")
	}
}
