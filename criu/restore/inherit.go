package restore

// Inherited fds (criu restore --inherit-fd fd[N]:KEY): package files
// parses them (files.ParseInheritFd) and says how each kind is reopened.

// inheritedFd returns criu's fd that Options.InheritFd gives for key,
// and records that the key was used.
func (t *treeRestorer) inheritedFd(key string) (int, bool) {
	fd, ok := t.opts.InheritFd[key]
	if ok {
		if t.inheritUsed == nil {
			t.inheritUsed = map[string]bool{}
		}
		t.inheritUsed[key] = true
	}
	return fd, ok
}

// warnUnusedInherit names the --inherit-fd keys that no file of the
// images had (CRIU ignores them too).
func (t *treeRestorer) warnUnusedInherit() {
	for key, fd := range t.opts.InheritFd {
		if !t.inheritUsed[key] {
			t.log.Warn().Str("key", key).Int("fd", fd).Msg("--inherit-fd: no file of the images has this name")
		}
	}
}
