// Package mntns checkpoints a tree's mount namespace: the mounts of a
// container whose root was pivot_root'ed into a rootfs (runc, Podman,
// LXC), with their layout, flags, options and propagation, and the
// files of its tmpfs mounts. Both halves live here; criu/dump and
// criu/restore call Dump and Restore.
//
// # Dump
//
// Dump reads /proc/ROOT/mountinfo (the paths are the container's) and
// writes every mount. A namespace whose root task's root is reachable
// from criu's (a copy of criu's namespace, which restore makes again as
// a new copy of its own made different where the tree's was: copy.go,
// Copy) is written as it is, checked against criu's, the tmpfs the tree
// made there archived; in a pivot_root'ed one each mount is classified:
//
//   - the root mount: the container's rootfs, given again at restore as
//     --root DIR (bind-mounted);
//   - external: a bind mount whose source is outside the container,
//     named with --external mnt[MOUNTPOINT]:KEY (also
//     --ext-mount-map MOUNTPOINT:KEY), or found by --ext-mount-map auto
//     (autoExternal: a bind of a mount of criu's namespace, saved with
//     AutoKey and the path it binds, which restore binds it from);
//   - made anew: proc, sysfs, devpts (a new instance), mqueue, tmpfs
//     (its files saved in tmpfs-dev-N.tar.gz.img, a gzip'ed tar with
//     modes, owners, times, device nodes, symlinks and hard links; the
//     socket files the tree's sockets are bound to left out, bound
//     again at restore),
//     cgroup, cgroup2, binfmt_misc, and any fstype named with
//     --enable-fs;
//   - an internal bind: a mount of a filesystem another mount of the
//     namespace holds whole or holds above the bind's root.
//
// Propagation is saved as the kernel shows it (shared_id, master_id):
// peer groups and masters inside the namespace are made again; a mount
// that is a slave of a group outside (a bind of the host's, in a
// namespace made rslave) is restored as a slave of its source's master
// when that source is external or the root; a mount sharing a peer group
// with mounts outside the namespace is refused. An unbindable mount is
// saved with MS_UNBINDABLE in its flags (as CRIU) and made unbindable at
// restore once every bind is made; an unbindable tmpfs's archive is read
// from the mount itself (it cannot be cloned), refused when a mount is
// below it or covered. A mount no path leads to any more (one made over
// it, at its mount point or above) is saved as any other; a covered
// tmpfs's files are read in a private copy of the namespace, on a thread
// of its own, where the mounts over it are detached. A bind of a
// directory or an empty file deleted since is saved as CRIU saves it
// and made again at restore (deleted.go). CheckFiles refuses the
// files of such a tree that restore cannot make in it (a deleted
// executable of the root task, a pty of criu's devpts). Anything
// else that cannot be restored exactly is refused by name (mount point
// and fstype) with errdefs.ErrUnsupported, before the tree is touched.
//
// # Restore
//
// Load reads the image, parents first (CRIU 4.2 lists the root last;
// a namespace that was a copy of criu's needs nothing: the clone's copy
// is it) and refuses a pivot_root'ed one
// without --root and an external mount without its path. HostPath finds
// a container path from criu's root before the namespace exists (the
// root task's executable). Make builds the layout inside the root task,
// cloned into a new mount namespace (a copy of criu's), with system
// calls injected into it: the copy is made rslave, --root DIR is
// bind-mounted on itself (made private unless the root mount was a
// slave), every mount is mounted below it in the image's order (covered
// siblings first), each on a new node of criu's /tmp, opened O_PATH in
// the task and moved onto its mount point through its parent's fd: every
// later step reaches a mount by its own fd, also one covered since (an
// external one bound from its path, a bind from the mount before it
// that holds its root, proc, sysfs, devpts, mqueue, tmpfs, cgroup,
// cgroup2, binfmt_misc and AUTO ones anew with their superblock flags
// and options; a tmpfs is filled from its tar through /proc/ROOT/root
// right after it is mounted), then peer groups and masters are set
// (MS_SHARED, move_mount(MOVE_MOUNT_SET_GROUP), MS_SLAVE), the
// unbindable ones made so, then each
// mount's flags (ro, nosuid, nodev, noexec, atime) with a bind remount;
// the task pivot_roots into DIR and the old root is detached, so that
// each task's root and cwd, every path the tasks open and every file
// they map resolve inside the container. InRoot and Prefix give the
// paths criu itself opens afterwards (/proc/ROOT/root/...).
//
// # Images
//
//	mountpoints-ID.img     MntEntry per mount, as /proc/PID/mountinfo lists
//	                       them (parents first): fstype (CRIU's enum; 0 for a
//	                       filesystem it does not name, AUTO (16) with fsname
//	                       for one made anew by --enable-fs), mnt_id,
//	                       root_dev (major<<20|minor), parent_mnt_id, flags
//	                       (MS_* of the mount), sb_flags (MS_* of the
//	                       superblock), root, mountpoint, source, options,
//	                       shared_id, master_id and ext_key (as CRIU 4.2)
//	tmpfs-dev-N.tar.gz.img a tmpfs's files (N its root_dev), raw
//
// What belongs here: mounts, their images (the tmpfs archives are
// criu/mntns/tmpfs's). What does
// not: the other namespaces (netns, ipcns, utsns), the files opened on
// the mounts (criu/files), the injection itself (criu/ptrace).
package mntns
