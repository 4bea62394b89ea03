// Package archtest holds no code: its tests check the shape of the house
// with go list, so that a change that breaks it fails make test:
//
//   - the wire protocol, the image daemons and their shared plumbing
//     (remoteimg, internal/daemon, imgproxy, imgcache) link neither the
//     engine (criu/...) nor its protobufs (proto/images);
//   - restore does not import the dumper, and no kernel-object package
//     imports either orchestrator (criu/dump, criu/restore): each object
//     keeps both its halves;
//   - no package has more than 2500 lines of non-test, non-generated Go.
//
// The raw-syscall rule (one package, internal/linux) is checked by
// .ci/lint-syscalls in make lint.
package archtest
