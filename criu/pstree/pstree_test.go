package pstree

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/criugo/criu/criu/errdefs"
)

func TestPlanSessions(t *testing.T) {
	root := Task{Pid: 10, Sid: 10, Pgid: 10}
	for _, c := range []struct {
		name  string
		tasks []Task
		via   map[int]Via
		born  map[int]int
		want  string // the refusal, "" for none
	}{
		{name: "the root's session", tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 10}}},
		{name: "its own", tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 11}}},
		{name: "an ancestor's", tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 11}, {Pid: 12, Ppid: 11, Sid: 12}, {Pid: 13, Ppid: 12, Sid: 11}},
			born: map[int]int{12: 11}},
		{name: "an ancestor's through two leaders", tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 11}, {Pid: 12, Ppid: 11, Sid: 12}, {Pid: 13, Ppid: 12, Sid: 13}, {Pid: 14, Ppid: 13, Sid: 11}},
			born: map[int]int{12: 11, 13: 11}},
		{name: "its parent's, given by a helper", tasks: []Task{root, {Pid: 12, Ppid: 10, Sid: 11}, {Pid: 13, Ppid: 12, Sid: 11}},
			via: map[int]Via{12: {By: 11, Helper: true}}},
		{name: "outside the pid namespace", tasks: []Task{{Pid: 1}, {Pid: 2, Ppid: 1}}},
		{name: "a zombie sibling leader's", tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 11, Zombie: true}, {Pid: 12, Ppid: 10, Sid: 11}},
			via: map[int]Via{12: {By: 11}}},
		{name: "a sibling's", tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 11}, {Pid: 12, Ppid: 10, Sid: 11}},
			via: map[int]Via{12: {By: 11}}},
		{name: "a reaped leader's", tasks: []Task{root, {Pid: 12, Ppid: 10, Sid: 11}, {Pid: 13, Ppid: 10, Sid: 11}},
			via: map[int]Via{12: {By: 11, Helper: true}, 13: {By: 11, Helper: true}}},
		{name: "a nephew's", tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 10}, {Pid: 12, Ppid: 11, Sid: 12, Zombie: true}, {Pid: 13, Ppid: 10, Sid: 12}},
			via: map[int]Via{13: {By: 12, Reparent: true}}},
		{name: "a cousin's", tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 10}, {Pid: 12, Ppid: 11, Sid: 10}, {Pid: 13, Ppid: 12, Sid: 13}, {Pid: 14, Ppid: 11, Sid: 13}, {Pid: 15, Ppid: 10, Sid: 10}},
			via: map[int]Via{14: {By: 13, Reparent: true}}},
		{name: "a leader above its parent's",
			tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 11}, {Pid: 12, Ppid: 10, Sid: 10}, {Pid: 13, Ppid: 12, Sid: 11}},
			want:  "task 13 is in session 11, whose leader cannot give it its session at restore: it is neither an ancestor of the task nor below its parent 12"},
		{name: "a reaped leader's, under two parents",
			tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 10}, {Pid: 13, Ppid: 10, Sid: 12}, {Pid: 14, Ppid: 11, Sid: 12}},
			want:  "members of its session have different parents, 10 and 11"},
		{name: "a leader born in two sessions",
			tasks: []Task{root, {Pid: 11, Ppid: 10, Sid: 11}, {Pid: 12, Ppid: 11, Sid: 12}, {Pid: 13, Ppid: 12, Sid: 11}, {Pid: 14, Ppid: 12, Sid: 10}},
			want:  "task 12, a session leader, would have to be born in sessions 11 and 10"},
		{name: "the root's outer session under another",
			tasks: []Task{{Pid: 10, Sid: 5}, {Pid: 11, Ppid: 10, Sid: 11}, {Pid: 12, Ppid: 11, Sid: 11}, {Pid: 13, Ppid: 12, Sid: 5}},
			want:  "it is outside the tree, as the root's session is"},
	} {
		s, err := PlanSessions(c.tasks)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		case c.want == "":
			if c.via == nil {
				c.via = map[int]Via{}
			}
			if c.born == nil {
				c.born = map[int]int{}
			}
			if !reflect.DeepEqual(s.Via, c.via) || !reflect.DeepEqual(s.Born, c.born) {
				t.Errorf("%s: via %v born %v, want via %v born %v", c.name, s.Via, s.Born, c.via, c.born)
			}
		}
	}
}
