// Package utsns saves and restores the state of one UTS namespace: its
// host name and NIS domain name, in CRIU's format.
//
// # Image (N is the namespace's object id)
//
//	utsns-N.img  header MagicCommon, 0x54473203 (UTSNS), then one
//	             UtsnsEntry{nodename, domainname}           (CRIU: same)
//
// Both functions work on the namespace of a task given by its pid in
// the caller's pid namespace, through package nsenter: the names are
// read with uname(2) and set with sethostname(2) and setdomainname(2)
// on a thread that has joined the namespace.
package utsns
