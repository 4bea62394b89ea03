// Package treens holds the namespaces of a dumped tree, the CRIU way
// (criu/namespaces.c, criu/pstree.c): a namespace of the root that is not
// criu's own is "the root's", is dumped, and is made anew at restore;
// every other task of the tree must be in the root's namespaces. Each
// task's ids image names its namespaces by object id, and the
// inventory's root_ids are criu's own ids, so that restore finds what to
// create by comparing the root's ids with root_ids (CRIU's
// get_clone_mask). CRIU allows nested net and mnt namespaces below the
// root (CLONE_SUBNS); we do not, and we fill the pid, net, ipc, uts, mnt,
// time and cgroup ids only (the user namespace must be criu's, and its id
// is left out). A cgroup namespace of the tree's own is saved as CRIU
// does, as the prefix of the tasks' cgroup paths that is its root
// (package cgroup).
//
// The time namespace (package timens) is saved either way, as CRIU
// does: the clocks of the root's own as timens-ID.img, or criu's as
// timens-0.img, so that restore makes a new one whose clocks go on.
//
// What each namespace holds is its own package's (netns, utsns, ipcns,
// mntns, timens); this one only tells which namespaces a tree has and
// that its tasks share them.
package treens
