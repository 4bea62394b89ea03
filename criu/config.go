package main

import (
	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/config"
)

// configArgs: the words of CRIU's configuration files (package config).
func configArgs(args []string, cmd *pflag.FlagSet, getenv func(string) string) ([]string, error) {
	return config.Args(args, getenv, func(name string) config.Kind {
		if fl := cmd.Lookup(name); fl != nil && fl.NoOptDefVal != "" {
			return config.TakesOptional
		} else if fl != nil {
			return config.Takes
		}
		for _, c := range commands {
			if fs, _, _ := newFlagSet(c); fs.Lookup(name) != nil {
				return config.Other
			}
		}
		return config.Unknown
	})
}
