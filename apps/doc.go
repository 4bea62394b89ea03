// Package apps holds tests that dump and restore real programs as users
// run them (postgres, nginx), with the programs' own clients checking
// the result. It has no code of its own; each test skips only when its
// program is not installed. TestApps (`make test-apps`) is the suite:
// each program a service in a network namespace, checkpointed with a
// client connected, restored locally and migrated through image-proxy
// and image-cache to a second namespace, timed beside CRIU 4.2.
package apps
