package mntns

import (
	"fmt"
	"strings"
)

// ParseRestoreOptions reads restore's --root DIR, the mnt[KEY]:PATH
// values among its --external ones (the others are left to their
// parsers) and its --ext-mount-map KEY:PATH values.
func ParseRestoreOptions(root string, external, maps []string) (RestoreOptions, error) {
	o := RestoreOptions{Root: root}
	add := func(flag, v, key, path string) error {
		if key == "" || path == "" {
			return fmt.Errorf("%s %q: want KEY:PATH", flag, v)
		}
		if o.External == nil {
			o.External = map[string]string{}
		}
		if _, dup := o.External[key]; dup {
			return fmt.Errorf("%s %q: key %s given twice", flag, v, key)
		}
		o.External[key] = path
		return nil
	}
	for _, v := range external {
		key, path, ok, err := ParseExternalMnt(v)
		if err != nil {
			return o, fmt.Errorf("--external: %w", err)
		}
		if ok {
			if err := add("--external", v, key, path); err != nil {
				return o, err
			}
		}
	}
	for _, v := range maps {
		key, path, _ := strings.Cut(v, ":")
		if err := add("--ext-mount-map", v, key, path); err != nil {
			return o, err
		}
	}
	return o, nil
}
