package main

import (
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// extUnixHelp is the --ext-unix-sk help text of dump.
const extUnixHelp = "save UNIX sockets connected outside the tree, as CRIU: alone, a datagram socket connected to a named one (restore connects it to that name again); =`INO,...` the sockets of those inodes, of any kind, which restore takes from --inherit-fd fd[N]:socket:[INO]"

// addExtUnixFlag adds CRIU's dump option --ext-unix-sk[=INO,...] (an optional
// argument) to fs and returns a parser of what was given: whether it
// was, and the inodes listed.
func addExtUnixFlag(fs *pflag.FlagSet) func() (bool, map[uint32]bool, error) {
	const all = "all" // --ext-unix-sk alone (or =all)
	v := fs.String("ext-unix-sk", "", extUnixHelp)
	fs.Lookup("ext-unix-sk").NoOptDefVal = all
	return func() (bool, map[uint32]bool, error) {
		if !fs.Changed("ext-unix-sk") {
			return false, nil, nil
		}
		if *v == all {
			return true, nil, nil
		}
		inos := map[uint32]bool{}
		for _, f := range strings.Split(*v, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 32)
			if err != nil || n == 0 {
				return false, nil, usagef("--ext-unix-sk=%s: want socket inode numbers separated by commas", *v)
			}
			inos[uint32(n)] = true
		}
		return false, inos, nil
	}
}
