package files

import "testing"

func TestParseInheritFd(t *testing.T) {
	for _, c := range []struct {
		arg  string
		fd   int
		key  string
		fail bool
	}{
		{arg: "fd[1]:pipe:[12345]", fd: 1, key: "pipe:[12345]"},
		{arg: "fd[2]:tty[8800:4]", fd: 2, key: "tty[8800:4]"},
		{arg: "fd[2]:tty[0x8801:001A]", fd: 2, key: "tty[8801:1a]"}, // as the images name it
		{arg: "fd[2]:tty[8801]", fail: true},
		{arg: "fd[2]:tty[zz:1]", fail: true},
		{arg: "fd[0]:var/log/app.log", fd: 0, key: "var/log/app.log"},
		{arg: "fd[2]:socket:[77]", fd: 2, key: "socket:[77]"},
		{arg: "fd[1]:", fail: true},
		{arg: "fd[x]:pipe:[1]", fail: true},
		{arg: "fd[-1]:pipe:[1]", fail: true},
		{arg: "debug[1]:hello", fail: true},
		{arg: "1:pipe:[1]", fail: true},
		{arg: "fd[999999]:pipe:[1]", fail: true}, // not open
	} {
		fd, key, err := ParseInheritFd(c.arg)
		if c.fail {
			if err == nil {
				t.Errorf("%q: no error (fd %d key %q)", c.arg, fd, key)
			}
			continue
		}
		if err != nil || fd != c.fd || key != c.key {
			t.Errorf("%q: fd %d key %q err %v, want %d %q", c.arg, fd, key, err, c.fd, c.key)
		}
	}
}
