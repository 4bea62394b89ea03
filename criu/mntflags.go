package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/mntns"
)

// addDumpMountFlags adds dump's options about the mounts of the tree's
// mount namespace, --ext-mount-map MOUNTPOINT:KEY and --enable-fs FS,
// and returns a parser of them and of the mnt[MOUNTPOINT]:KEY values of
// --external (which addDumpExternalFlag defines and leaves to it).
func addDumpMountFlags(fs *pflag.FlagSet) func() (mntns.DumpOptions, error) {
	maps := fs.StringArrayP("ext-mount-map", "M", nil, "`MOUNTPOINT:KEY`: the mount at MOUNTPOINT of the tree's mount namespace is external, saved by KEY (as --external mnt[MOUNTPOINT]:KEY; a mount point the namespace does not have is ignored, as CRIU); auto: a mount that is a bind of one of criu's namespace is external, bound from the same path at restore. Repeatable")
	enable := fs.StringArray("enable-fs", nil, "`FS[,FS...]`: mounts of these filesystem types are made anew at restore with their source and options. Repeatable")
	sharing := fs.Bool("enable-external-sharing", false, "with --ext-mount-map auto: also a shared mount (in a peer group) is found external")
	masters := fs.Bool("enable-external-masters", false, "with --ext-mount-map auto: also a slave is found external, when its master is the group of the mount it is a bind of")
	return func() (mntns.DumpOptions, error) {
		o := mntns.DumpOptions{ExternalSharing: *sharing, ExternalMasters: *masters}
		add := func(flag, v, point, key string) error {
			if o.External == nil {
				o.External = map[string]string{}
			}
			if _, dup := o.External[point]; dup {
				return usagef("%s %q: mount point %s given twice", flag, v, point)
			}
			o.External[point] = key
			return nil
		}
		ext, _ := fs.GetStringArray("external")
		for _, v := range ext {
			if flags, ok := autoExternal(v); ok {
				// CRIU's mnt[]:FLAGS is --ext-mount-map auto, s
				// adding --enable-external-sharing and m
				// --enable-external-masters.
				if strings.Trim(flags, "sm") != "" {
					return o, usagef("--external %q: want mnt[] or mnt[]:FLAGS, FLAGS of s (sharing) and m (masters)", v)
				}
				o.Auto = true
				o.ExternalSharing = o.ExternalSharing || strings.Contains(flags, "s")
				o.ExternalMasters = o.ExternalMasters || strings.Contains(flags, "m")
				continue
			}
			point, key, ok, err := mntns.ParseExternalMnt(v)
			if err != nil {
				return o, usagef("--external: %v", err)
			}
			if ok {
				if err := add("--external", v, point, key); err != nil {
					return o, err
				}
			}
		}
		for _, v := range *maps {
			if v == "auto" {
				o.Auto = true
				continue
			}
			point, key, ok := strings.Cut(v, ":")
			if !ok || point == "" || key == "" {
				return o, usagef("--ext-mount-map %q: want MOUNTPOINT:KEY", v)
			}
			if err := add("--ext-mount-map", v, point, key); err != nil {
				return o, err
			}
		}
		for _, v := range *enable {
			for _, f := range strings.Split(v, ",") {
				if f == "" {
					continue
				}
				if o.EnableFS == nil {
					o.EnableFS = map[string]bool{}
				}
				o.EnableFS[f] = true
			}
		}
		return o, nil
	}
}

// addRestoreMountFlags adds restore's options about the tree's mount
// namespace, --root DIR and --ext-mount-map KEY:PATH (--enable-fs is
// taken for CRIU's command lines: dump saved what it names), and
// returns a parser of them and of the mnt[KEY]:PATH values of
// --external (which addExternalFlag defines and leaves to it).
func addRestoreMountFlags(fs *pflag.FlagSet) func() (mntns.RestoreOptions, error) {
	root := fs.StringP("root", "r", "", "the container's rootfs `DIR`: the root mount of the tree's mount namespace (a pivot_root'ed one needs it)")
	maps := fs.StringArrayP("ext-mount-map", "M", nil, "`KEY:PATH`: the external mount saved by KEY is bound from PATH (as --external mnt[KEY]:PATH); auto: accepted, the mounts dump found are bound from the paths it saved. Repeatable")
	fs.StringArray("enable-fs", nil, "`FS[,FS...]`: accepted; dump saved the mounts it names")
	return func() (mntns.RestoreOptions, error) {
		all, _ := fs.GetStringArray("external")
		var ext []string
		for _, v := range all {
			if _, auto := autoExternal(v); !auto {
				ext = append(ext, v)
			}
		}
		var named []string
		for _, v := range *maps {
			if v != "auto" {
				named = append(named, v)
			}
		}
		o, err := mntns.ParseRestoreOptions(*root, ext, named)
		if err != nil {
			return o, usagef("%v", err)
		}
		return o, nil
	}
}

// autoExternal reads CRIU's --external mnt[] and mnt[]:FLAGS (the mounts
// found external as with --ext-mount-map auto), returning FLAGS.
func autoExternal(v string) (flags string, ok bool) {
	if v == "mnt[]" {
		return "", true
	}
	return strings.CutPrefix(v, "mnt[]:")
}
