// Package config reads CRIU's configuration files (criu/config.c,
// criu.org/Configuration_files) into command-line words: one option a
// line without its leading dashes ("tcp-established", "log-file
// /x.log"; "--" is added to the line's first word), words split at
// white space, a word in double quotes kept whole (\" inside), # to the
// end of the line a comment. Files is CRIU's order, each file
// overriding the one before; the command line comes last and wins.
package config
