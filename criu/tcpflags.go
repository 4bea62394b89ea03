package main

import "github.com/spf13/pflag"

// tcpFlags are CRIU's options about TCP connections, on dump and
// restore alike.
type tcpFlags struct {
	established, close, skipInFlight bool
}

// addTCPFlags adds --tcp-established, --tcp-close, --skip-in-flight and
// its alias --tcp-skip-in-flight to fs.
func addTCPFlags(fs *pflag.FlagSet) *tcpFlags {
	f := &tcpFlags{}
	fs.BoolVar(&f.established, "tcp-established", false, "checkpoint and restore established TCP connections with TCP repair (needed on dump and on restore)")
	fs.BoolVar(&f.close, "tcp-close", false, "dump: save established TCP connections without their state; restore: make them closed both ways (the task's reads get end of file, its writes EPIPE)")
	fs.BoolVar(&f.skipInFlight, "skip-in-flight", false, "drop the TCP connections a listener has not accepted yet instead of failing the dump")
	fs.BoolVar(&f.skipInFlight, "tcp-skip-in-flight", false, "same as --skip-in-flight")
	return f
}
