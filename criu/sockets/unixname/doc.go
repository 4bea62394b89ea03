// Package unixname is where a UNIX socket's name is in the file system,
// for both halves of criu/sockets: at dump, the directory a relative
// name is relative to (Dir, as CRIU's name_dir) and the refusal of a
// socket whose file a mount hides (RefuseHidden); at restore, the path
// of a name (Path), running a bind or connect where a relative name
// resolves (InDir), readying the path of a deleted socket's name
// (BindGhostPath), removing a dumped socket's stale file (RemoveStale),
// and the link that reaches a socket whose path another takes after it
// (LinkReach).
package unixname
