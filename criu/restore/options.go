package restore

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/cgroup"
	"github.com/criugo/criu/criu/mntns"
)

// Options says how to restore.
type Options struct {
	// ShellJob: fds recorded as inherited from the shell are the
	// restorer's own stdio, and a root that was not a session leader
	// joins the restorer's session (and, unless it led its own group,
	// the restorer's group); see shelljob.go for CRIU's rules.
	ShellJob bool
	// Sibling: the root task is a child of criu's own parent, not of
	// criu (criu restore --restore-sibling, with --restore-detached).
	Sibling bool
	// Stdin, Stdout, Stderr are the fds the stub (and so the task)
	// inherits as 0, 1 and 2; zero values mean the restorer's own.
	Stdio []uintptr
	// FileLocks takes back the file locks of filelocks.img (criu
	// restore --file-locks); images holding locks are refused without it.
	FileLocks bool
	// Veth maps a veth link of the tree's network namespace to the name
	// its peer gets outside, and the bridge it is attached to if any
	// (criu restore --external veth[IN]:OUT[@BRIDGE]; netns.RestoreOptions).
	Veth map[string]string
	// Mounts: --root and the paths of external mounts (mntns.Load).
	Mounts mntns.RestoreOptions
	// IPTool is the ip program that restores a network namespace;
	// "ip" from PATH when empty (CRIU: $CR_IP_TOOL).
	IPTool string
	// InheritFd gives, by CRIU's name of a file (pipe:[INO],
	// socket:[INO], tty[RDEV:DEV], path/to/file), the restorer's fd that
	// takes its place (criu restore --inherit-fd fd[N]:KEY; inherit.go).
	InheritFd map[string]int
	// TCPEstablished, TCPClose: established TCP connections rebuilt, or
	// closed (--tcp-established, --tcp-close; sockets.TCPOptions).
	TCPEstablished, TCPClose bool
	// EmptyNetns: a network namespace of the tree's own is made empty
	// (CRIU's empty_ns with CLONE_NEWNET; netns.RestoreOptions.Empty).
	EmptyNetns bool
	// Cgroup: --manage-cgroups, --cgroup-root, --cgroup-yard (package cgroup).
	Cgroup cgroup.Options
	// OrphanPtsMaster, if set, takes each pty's new master whose old
	// one was outside the tree (tty.Restorer.OrphanMaster).
	OrphanPtsMaster func(fd int) error
	// Log receives progress.
	Log zerolog.Logger
	// Notify, when set, is called at CRIU's action-script steps (criu
	// swrk's notifications, package criu/rpc) with the root's host pid:
	// pre-restore (pid 0), setup-namespaces, post-setup-namespaces,
	// post-restore (all restored, none running), network-unlock (a netns
	// of the tree's own), pre-resume, post-resume (pid 0; the tasks run,
	// an error is only logged). An error fails the restore.
	Notify func(ctx context.Context, step string, pid int) error
}

// notify calls o.Notify, if set, for step.
func (o *Options) notify(ctx context.Context, step string, pid int) error {
	if o.Notify == nil {
		return nil
	}
	return o.Notify(ctx, step, pid) // its error names the step
}

// Stats are the figures of one restore.
type Stats struct {
	Forking       time.Duration // stub started and task cloned
	Restore       time.Duration // whole restore
	PagesRestored uint64
	// PagesSkippedCow are pages left shared with the parent's, as
	// inherited by fork (package mm), instead of written.
	PagesSkippedCow uint64
	// PagesCompared are pages compared with what the task inherited.
	PagesCompared uint64
}
