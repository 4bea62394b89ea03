package pstree

import (
	"errors"
	"strings"
	"testing"

	"github.com/criugo/criu/criu/errdefs"
)

func TestCheckSessions(t *testing.T) {
	root := Task{Pid: 10, Sid: 10, Pgid: 10}
	for _, c := range []struct {
		name  string
		tasks []Task
		want  string // "" for none
	}{
		{"the root's session", []Task{root, {Pid: 11, Ppid: 10, Sid: 10}}, ""},
		{"its own", []Task{root, {Pid: 11, Ppid: 10, Sid: 11}}, ""},
		{"an ancestor's", []Task{root, {Pid: 11, Ppid: 10, Sid: 11}, {Pid: 12, Ppid: 11, Sid: 12}, {Pid: 13, Ppid: 12, Sid: 11}}, ""},
		{"outside the pid namespace", []Task{{Pid: 1}, {Pid: 2, Ppid: 1}}, ""},
		{"a zombie leader's", []Task{root, {Pid: 11, Ppid: 10, Sid: 11, Zombie: true}, {Pid: 12, Ppid: 10, Sid: 11}}, "task 12 is in session 11, whose leader cannot give it its session at restore: it is a zombie"},
		{"a sibling's", []Task{root, {Pid: 11, Ppid: 10, Sid: 11}, {Pid: 12, Ppid: 10, Sid: 11}}, "it is not an ancestor of the task"},
		{"a reaped leader's", []Task{root, {Pid: 12, Ppid: 10, Sid: 11}}, "it is not in the tree"},
	} {
		err := CheckSessions(c.tasks)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
