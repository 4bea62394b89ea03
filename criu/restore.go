package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/cmdstore"
	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/restore"
)

func init() {
	register(&command{
		name:    "restore",
		usage:   "-D DIR [options]",
		summary: "restore a process from images, with its pid and thread ids",
		setup: func(fs *pflag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			var (
				pidfile         string
				detached, shell bool
				timeout         int
			)
			so := addStoreFlags(fs, false)
			fs.BoolVarP(&detached, "restore-detached", "d", false, "return once the task runs instead of waiting for it")
			sibling := fs.BoolP("restore-sibling", "S", false, "make the restored root a child of criu's parent, not of criu (with --restore-detached; LXC waits for its container's init)")
			fs.StringVar(&pidfile, "pidfile", "", "write the restored root task's pid (as the host sees it, also for a tree in a pid namespace of its own) to `FILE`")
			statusFD := fs.Int("status-fd", -1, "write a zero byte to file descriptor `FD` once the tree runs, then close it (as CRIU)")
			fs.BoolVarP(&shell, "shell-job", "j", false, "restore a shell job: its stdio is ours, it joins our session (see the README, Shell jobs)")
			fs.IntVar(&timeout, "timeout", 0, "accepted; no effect")
			tcp := addTCPFlags(fs)
			cgroups := addCgroupFlags(fs, false)
			fileLocks := fs.Bool("file-locks", false, "take back the file locks of the images (needed when they hold any)")
			external := addExternalFlag(fs)
			mounts := addRestoreMountFlags(fs)
			netLock := fs.String("network-lock", "", "accepted; the method of the dump (its inventory) unlocks the network, as CRIU")
			inheritFd := fs.StringArray("inherit-fd", nil, "give the task criu's fd N in place of the file KEY of the images: `fd[N]:KEY` with KEY pipe:[INO], socket:[INO], tty[RDEV:DEV] or path/to/file (repeatable)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if *sibling && !detached {
					return usagef("--restore-sibling only makes sense with --restore-detached")
				}
				veth, ignored, err := external()
				if err != nil {
					return err
				}
				for _, v := range ignored {
					e.Log.Warn().Str("external", v).Msg("--external names nothing restore takes (no image refers to it): ignored")
				}
				cg, err := cgroups()
				if err != nil {
					return err
				}
				mnt, err := mounts()
				if err != nil {
					return err
				}
				inherit := map[string]int{}
				for _, a := range *inheritFd {
					fd, key, err := files.ParseInheritFd(a)
					if err != nil {
						return usagef("%v", err)
					}
					inherit[key] = fd
				}
				if fs.Changed("network-lock") {
					e.Log.Warn().Str("network-lock", *netLock).Msg("--network-lock is ignored by restore: the dump's method is used")
				}
				store, err := so.open(ctx, e, false)
				if err != nil {
					return err
				}
				defer store.Close()
				// Interrupted, the restore fails at its next image read
				// and kills what it created.
				rs, _ := cmdstore.Wrap(ctx, store)
				defer startCPUProfile(e.Log, "restore")()
				t, err := restore.Restore(ctx, rs, restore.Options{ShellJob: shell, Sibling: *sibling, FileLocks: *fileLocks, Veth: veth, InheritFd: inherit, TCPEstablished: tcp.established, TCPClose: tcp.close, IPTool: os.Getenv("CR_IP_TOOL"), Cgroup: cg, Mounts: mnt, Log: e.Log})
				if err != nil {
					return err
				}
				if rel, ok := store.(image.Releaser); ok {
					// The task runs: the cache may free the snapshot.
					if err := rel.Release(ctx); err != nil {
						e.Log.Warn().Err(err).Msg("release remote snapshot")
					}
				}
				if pidfile != "" {
					if err := os.WriteFile(pidfile, []byte(strconv.Itoa(t.Pid)), 0o644); err != nil {
						e.Log.Warn().Err(err).Msg("write pidfile")
					}
				}
				if *statusFD >= 0 {
					f := os.NewFile(uintptr(*statusFD), "status-fd")
					if _, err := f.Write([]byte{0}); err != nil {
						e.Log.Warn().Err(err).Int("fd", *statusFD).Msg("write --status-fd")
					}
					f.Close()
				}
				if detached {
					t.Release()
					return nil
				}
				type waited struct {
					ws  unix.WaitStatus
					err error
				}
				wc := make(chan waited, 1)
				go func() {
					ws, err := t.Wait()
					wc <- waited{ws, err}
				}()
				var ws unix.WaitStatus
				select {
				case w := <-wc:
					if w.err != nil {
						return fmt.Errorf("wait for %d: %w", t.Pid, w.err)
					}
					ws = w.ws
				case <-ctx.Done():
					// The restore is done: its tree is not undone, as
					// CRIU's, whose death leaves it running.
					return &interruptDetail{fmt.Sprintf("the restored tree (pid %d) runs on; criu no longer waits for it", t.Pid)}
				}
				code := ws.ExitStatus()
				if ws.Signaled() {
					code = 128 + int(ws.Signal())
				}
				e.Log.Info().Int("pid", t.Pid).Int("status", code).Msg("task exited")
				if code != 0 {
					os.Exit(code)
				}
				return nil
			}
		},
	})
}
