// Package apps holds tests that dump and restore real programs as users
// run them (postgres, nginx), with the programs' own clients checking
// the result. It has no code of its own; each test skips only when its
// program is not installed.
package apps
