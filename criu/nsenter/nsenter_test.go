package nsenter

import (
	"errors"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

func hostname() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Nodename[:]), nil
}

// TestDoEntersAndDiscards: fn sees the other namespace, and no other
// goroutine ever runs in it afterwards (the thread is not reused).
func TestDoEntersAndDiscards(t *testing.T) {
	pid := nstest.Start(t, unix.CLONE_NEWUTS)
	host, err := hostname()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Readlink("/proc/self/ns/uts")
	if err != nil {
		t.Fatal(err)
	}
	const name = "criugo-nsenter-test"
	for i := 0; i < 20; i++ {
		err := Do(pid, UTS, func() error {
			if err := unix.Sethostname([]byte(name)); err != nil {
				return err
			}
			got, err := hostname()
			if err == nil && got != name {
				err = errors.New("sethostname inside did not take: " + got)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Many goroutines on whatever threads the runtime has: none is in
	// the child's namespace.
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, _ := hostname(); got != host {
				errs <- got
			}
		}()
	}
	wg.Wait()
	close(errs)
	for got := range errs {
		t.Fatalf("a goroutine saw hostname %q, host is %q: a thread was reused", got, host)
	}
	// The main thread, whose namespaces /proc/self/ns shows, never joins.
	if now, _ := os.Readlink("/proc/self/ns/uts"); now != self {
		t.Errorf("/proc/self/ns/uts is %s, was %s", now, self)
	}
}

func TestDoErrors(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	sentinel := errors.New("from fn")
	if err := Do(os.Getpid(), IPC, func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("fn's error: got %v", err)
	}
	err := Do(1<<30, IPC, func() error { t.Error("fn ran for a missing pid"); return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing pid: err = %v, want not exist", err)
	}
}

func TestNotOwn(t *testing.T) {
	pid := nstest.Start(t, unix.CLONE_NEWIPC)
	if err := NotOwn(pid, IPC); err != nil {
		t.Errorf("child in a new ipc namespace: %v", err)
	}
	if err := NotOwn(pid, UTS); !errors.Is(err, ErrOwnNamespace) {
		t.Errorf("child in our uts namespace: err = %v, want ErrOwnNamespace", err)
	}
}

// TestInDir: fn's relative paths resolve from the directory, the
// process's working directory (every other thread's) stays as it was,
// and so it does while many such calls run at once.
func TestInDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/f", []byte("here"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- InDir(d, func() error {
				b, err := os.ReadFile("f")
				if err == nil && string(b) != "here" {
					err = errors.New("read " + string(b))
				}
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if after, err := os.Getwd(); err != nil || after != before {
		t.Fatalf("the process's cwd is %q (%v), was %q", after, err, before)
	}
	if _, err := os.Stat("f"); err == nil {
		t.Fatal("f resolves from the process's cwd")
	}
}
