package procfs

import (
	"errors"
	"strings"
	"testing"
)

func TestFdinfoKinds(t *testing.T) {
	fi, err := ParseFdinfo(strings.NewReader("pos:\t0\nflags:\t04002\neventfd-count:                5\neventfd-id: 1\neventfd-semaphore: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e, err := fi.Eventfd(); err != nil || e.Count != 5 || !e.Semaphore {
		t.Errorf("eventfd %+v %v", e, err)
	}
	fi, _ = ParseFdinfo(strings.NewReader("flags:\t02\nsigmask:\t0000000200000200\n"))
	if m, err := fi.Sigmask(); err != nil || m != 0x200000200 {
		t.Errorf("sigmask %#x %v", m, err)
	}
	fi, _ = ParseFdinfo(strings.NewReader("clockid: 1\nticks: 3\nsettime flags: 01\nit_value: (99, 992228065)\nit_interval: (1, 500)\n"))
	tf, err := fi.Timerfd()
	if err != nil || tf.Clockid != 1 || tf.Ticks != 3 || tf.SettimeFlags != 1 || tf.Value != (Timespec{99, 992228065}) || tf.Interv != (Timespec{1, 500}) {
		t.Errorf("timerfd %+v %v", tf, err)
	}
	if _, err := (Fdinfo{Extra: map[string]string{}}).Timerfd(); !errors.Is(err, ErrFormat) {
		t.Errorf("empty timerfd: %v", err)
	}
	tfds, err := ParseEpollTfds(strings.NewReader("pos:\t0\ntfd:        3 events: 80000019 data:       1234567890  pos:0 ino:40e sdev:10\ntfd:        5 events:       1c data:                7  pos:0 ino:40e sdev:10\n"))
	if err != nil || len(tfds) != 2 {
		t.Fatalf("%+v %v", tfds, err)
	}
	want := EpollTfd{Fd: 3, Events: 0x80000019, Data: 0x1234567890, Ino: 0x40e, Dev: 0x10}
	if tfds[0] != want || tfds[1].Fd != 5 || tfds[1].Events != 0x1c || tfds[1].Data != 7 {
		t.Errorf("%+v", tfds)
	}
	if _, err := ParseEpollTfds(strings.NewReader("tfd: x events: 1\n")); !errors.Is(err, ErrFormat) {
		t.Errorf("bad tfd: %v", err)
	}
}
