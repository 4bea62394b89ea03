// Package cgroup saves and restores the cgroups of the tree, as CRIU
// does (criu/cgroup.c, criu/cgroup-props.c): which cgroup of each
// hierarchy every task is in, and the directories below the tree's
// cgroups with their owners, modes and properties (pids.max,
// memory.limit_in_bytes, cpu.shares, cpuset.cpus, ...).
//
// # Image
//
//	cgroup.img  header MagicCommon, 0x59383330 (CGROUP), then one
//	            CgroupEntry{sets, controllers}               (CRIU: same)
//
// A set is one cgroup per hierarchy (a line of /proc/PID/cgroup: the
// hierarchy's controllers, "name=systemd" for a named one, "" for the
// unified v2 hierarchy, and the path). Set 1 is criu's own at dump: the
// inventory names it (root_cg_set) and it is not written; each thread
// names its set in its core (thread_core.cg_set). A tree all in criu's
// set has no cgroup.img, as CRIU. A controller entry holds the cgroup
// directories of one hierarchy: each top directory is a cgroup tasks are
// in (or the --cgroup-root given at dump), named by its path from the
// hierarchy's root, with every directory below it, each with the
// properties of its controllers that exist (Props) and CRIU's global
// ones (cgroup.procs and tasks for their owner and mode only).
//
// # Restore (Mode, CRIU's --manage-cgroups)
//
//	ignore  nothing is done: the tasks stay in criu's cgroups
//	none    the cgroups must exist; their properties are left alone
//	props   the cgroups must exist; their properties are written
//	soft    missing cgroups are created with their properties, existing
//	        ones are left alone (the default)
//	full    missing cgroups are created, every cgroup gets its properties
//	strict  no cgroup may exist: all are created with their properties
//
// --cgroup-root [CTRL:]PATH at restore puts a hierarchy's top directory
// at PATH (every hierarchy's, without CTRL), and the tasks' cgroups below
// it follow. Each task is moved into its cgroups (its pid written to
// cgroup.procs) right after it is created, stopped, before its memory is
// restored, so that what it allocates is charged there. Hierarchies are
// found in criu's mounts (/proc/self/mountinfo), or with --cgroup-yard
// DIR in DIR/CTRLS (controllers joined by ",", "unified" for v2).
//
// A tree in a cgroup namespace of its own is saved with the namespace's
// root in each hierarchy (cgns_prefix: the part of the paths its tasks
// do not see, read from inside the namespace); restore moves the root
// task there, has it unshare CLONE_NEWCGROUP, then moves it to its own
// cgroups. A thread in another cgroup than its leader is refused at dump
// by name.
//
// # Freezer
//
// Freezer (criu dump --freeze-cgroup) freezes a cgroup for the dump to
// seize its tasks: v1 freezer.state (FROZEN written again while
// FREEZING, for the tasks forked meanwhile), v2 cgroup.freeze and
// cgroup.events.
package cgroup
