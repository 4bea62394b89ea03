// Package rpc is CRIU's RPC service: what `criu swrk FD` serves on the
// SOCK_SEQPACKET socket it inherits from runc, Podman (through runc or
// crun), CRI-O or any go-criu / libcriu client. The messages are CRIU's
// (proto/rpc, the same field numbers), one per packet; the requests are
// served by the same engine the command line calls (criu/dump,
// criu/restore), one after another until the client closes the socket.
//
//	client                                   criu swrk FD
//	  │ criu_req{VERSION}                 ──▶ │
//	  │ ◀── criu_resp{VERSION, 4.2, gitid: our version, name: criu-go}
//	  │ criu_req{DUMP, opts{images_dir_fd, pid, notify_scripts...}} ──▶ │
//	  │ ◀── criu_resp{NOTIFY, notify{script: "pre-dump"}}
//	  │ criu_req{NOTIFY, notify_success: true} ──▶ │   (each step alike:
//	  │ ...   network-lock, query-ext-files, post-dump       freeze, images)
//	  │ ◀── criu_resp{DUMP, success, dump{restored: false}}
//	  │ close                              ──▶ │ exits 0
//
// A RESTORE notifies pre-restore, setup-namespaces (the root's pid) and
// post-setup-namespaces (both only for a tree with namespaces of its own,
// as CRIU's), post-restore (the pid runc adopts), network-unlock
// (a network namespace of the tree's own), pre-resume and post-resume, in
// CRIU's order, and answers with the root's pid. Notifications are sent
// only when the request sets notify_scripts, as CRIU's. A client that
// answers a notification with notify_success false fails the request at
// that step; a dump then lets the tree run on as it was.
//
// A RESTORE with orphan_pts_master (runc always sets it) sends, for a
// pty whose master was outside the tree (a container's console), the
// new master with an orphan-pts-master notification, by SCM_RIGHTS.
//
// Configuration files (config.go) apply in CRIU's RPC order: the
// default files under the request's options, the request's
// config_file over them; remote, remote-socket and snapshot-id there
// put the images on the local image-proxy or image-cache (run.go).
//
// Options (options.go) are taken by CRIU's meaning: each one either maps
// onto dump.Options / restore.Options, or is accepted where ignoring it
// cannot change the result (the reason is logged and written in
// options.go), or fails the request with an error naming it
// (errdefs.ErrUnsupported), never silently. images_dir_fd and work_dir_fd
// are fds of the client, reached as CRIU reaches them: through
// /proc/PEER/fd/N, PEER the socket's SO_PEERCRED pid. The log goes to
// log_file (default criu.log) in the work dir, where runc reads dump.log
// and restore.log after a failure; cr_errmsg carries the error too.
package rpc
