package dump

import (
	"github.com/criugo/criu/criu/mntns"

	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/cgroup"
	"github.com/criugo/criu/criu/netlock"
)

// Options says what to dump and how. The criu command fills it from its
// flags; the engine never sees a flag set.
type Options struct {
	// Pid is the task to dump.
	Pid int
	// LeaveRunning lets the task continue after the dump instead of
	// killing it.
	LeaveRunning bool
	// ShellJob allows a task started from a shell (shelljob.go): fds
	// 0-2 on a terminal, a socket, or a pipe whose other end is outside
	// the tree are recorded as external (taken from the restorer at
	// restore), and a root that is not a session leader, or a task
	// with a controlling terminal, is accepted. Without it such a tree
	// fails with ErrShellJob.
	ShellJob bool
	// PrevImages is the previous (pre-)dump's images, relative to the
	// images dir (--prev-images-dir): pages it holds unchanged are
	// referred to (PE_PARENT) instead of dumped. Local images only.
	PrevImages string
	// TrackMem tracks memory writes from this dump on, so that the next
	// one can tell which pages changed (package mm, incremental.go).
	TrackMem bool
	// FileLocks saves the flock and POSIX locks the tasks hold on
	// regular files (filelocks.img); without it a held lock fails the
	// dump with ErrFileLocks (criu dump --file-locks).
	FileLocks bool
	// LinkRemap links a file deleted while open that keeps a link
	// elsewhere back as link_remap.N in its directory, kept until the
	// restore (criu dump --link-remap; files.Set.LinkRemap).
	LinkRemap bool
	// GhostLimit is the most data a file deleted while open may hold
	// (criu dump --ghost-limit); nil is CRIU's default, 1 MiB
	// (files.Set.GhostLimit).
	GhostLimit *int64
	// Mounts is what the user said about the mounts of the tree's own
	// mount namespace (--external mnt[MP]:KEY, --ext-mount-map MP:KEY,
	// --enable-fs; package mntns).
	Mounts mntns.DumpOptions
	// ExternalTTY names the terminals, by CRIU's key tty[RDEV:DEV]
	// (tty.TTYKey), whose other end is outside the tree (a container's
	// console): their fds, at any fd number, are dumped as external
	// (EXT_TTY), and restore must be given each with --inherit-fd
	// (criu dump --external tty[RDEV:DEV]; package tty).
	ExternalTTY map[string]bool
	// OrphanPtsMaster: tty.Options.OrphanPtsMaster (criu swrk's
	// orphan_pts_master).
	OrphanPtsMaster bool
	// ExternalNetns: the tree's network namespace, by inode, is saved
	// as its key only (--external net[INO]:KEY; netns.DumpExternal).
	ExternalNetns map[uint64]string
	// ExtUnixSk lets a UNIX datagram socket connected to a named socket
	// outside the tree be dumped: the peer is written as external, and
	// restore connects to that name again (criu dump --ext-unix-sk,
	// CRIU's legacy rule). ExtUnixInodes are the sockets, by inode,
	// connected to a peer outside the tree that restore will be given
	// with --inherit-fd fd[N]:socket:[INO] (--ext-unix-sk=INO,...): of
	// any kind, with nothing queued.
	ExtUnixSk     bool
	ExtUnixInodes map[uint32]bool
	// TCPEstablished saves established TCP connections with TCP repair
	// (--tcp-established); TCPClose saves them without their state, to
	// be restored closed (--tcp-close); SkipInFlight drops connections
	// not accepted yet of TCP and MPTCP listeners (--skip-in-flight). Without them such sockets
	// fail the dump.
	TCPEstablished, TCPClose, SkipInFlight bool
	// IPTool is the ip program that saves a network namespace of the
	// tree's own; "ip" from PATH when empty (CRIU: $CR_IP_TOOL).
	IPTool string
	// EmptyNetns: a network namespace of the tree's own is not saved,
	// only its existence (CRIU's empty_ns with CLONE_NEWNET, which runc
	// always sends); restore makes it empty.
	EmptyNetns bool
	// Cgroup: --manage-cgroups (Ignore: no cgroup saved), --cgroup-root,
	// --cgroup-props(-file), --cgroup-dump-controller, --cgroup-yard
	// (package cgroup).
	Cgroup cgroup.Options
	// FreezeCgroup is a cgroup (freezer v1 or v2) holding the tree,
	// frozen while it is seized (criu dump --freeze-cgroup; freezecg.go).
	FreezeCgroup string
	// NetworkLock is how the tree's connections are kept silent from
	// the freeze to the restore (criu dump --network-lock; package
	// netlock); "" is nftables.
	NetworkLock netlock.Method
	// Log receives progress; the zero value logs nothing.
	Log zerolog.Logger
	// StatsAfterFinish: the store takes images after its Finish (a
	// local images dir), so stats-dump is written once the tree is
	// killed or resumed and its frozen time covers the final sync.
	StatsAfterFinish bool
	// Notify, when set, is called at the steps where CRIU runs its
	// action scripts, by CRIU's names: "pre-dump" before the freeze,
	// "network-lock" before a network namespace of the tree's own is
	// locked, "query-ext-files" once the tree is frozen, "post-dump"
	// once the images are complete and before the tree is killed or
	// let go, "network-unlock" when such a namespace is unlocked after
	// a dump with LeaveRunning or a failed one (criu swrk sends them as notifications;
	// package criu/rpc). An error fails the dump, which lets the tree go.
	Notify func(ctx context.Context, step string) error
}

// notify calls o.Notify, if set, for step.
func (o *Options) notify(ctx context.Context, step string) error {
	if o.Notify == nil {
		return nil
	}
	if err := o.Notify(ctx, step); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return nil
}

// Stats are the figures of one dump, also written to stats-dump.
type Stats struct {
	Freezing     time.Duration // seize and stop every thread
	Frozen       time.Duration // from stopped to killed or let go
	MemDump      time.Duration // reading pages
	MemWrite     time.Duration // writing pages to the store
	PagesScanned uint64
	PagesWritten uint64
	// PagesSkippedParent are pages left in the parent images.
	PagesSkippedParent uint64
	// ShpagesWritten are the pages of shared memory objects (shmem).
	ShpagesWritten uint64
}
