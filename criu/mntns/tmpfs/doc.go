// Package tmpfs saves and restores the files of a tmpfs mount of a
// tree's mount namespace, as CRIU does: tmpfs-dev-N.tar.gz.img (N the
// mount's root_dev, major<<20|minor) holds them as a gzip'ed tar
// (numeric owners, modes, times, symlinks, hard links, device nodes,
// fifos), read from a clone of the mount without the mounts below it
// (in a private copy of the namespace where it is covered). criu/mntns
// decides which tmpfs are archived and calls Dump and Restore.
//
// What belongs here: the archive and reading and filling a tmpfs. What
// does not: the mounts themselves (criu/mntns).
package tmpfs
