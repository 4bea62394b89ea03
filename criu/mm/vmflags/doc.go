// Package vmflags says which smaps VmFlags of a mapping restore makes
// again (Check): a mapping with any other fails the dump, naming it.
package vmflags
