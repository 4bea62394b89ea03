package firewall

import "testing"

// CRIU 4.2's nftables-N.img holds its own lock table among the tree's:
// restore leaves it out, and keeps every other table whole.
func TestWithoutLockTables(t *testing.T) {
	in := "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n" +
		"table inet CRIU-1234 {\n\tchain output {\n\t\ttype filter hook output priority filter; policy drop;\n\t}\n}\n" +
		"table ip nat {\n}\n" +
		"table inet CRIU-9 { }\n"
	want := "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n" +
		"table ip nat {\n}\n"
	if got := string(withoutLockTables([]byte(in))); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := string(withoutLockTables([]byte(want))); got != want {
		t.Errorf("no lock table: got\n%s\nwant it unchanged", got)
	}
}

// CRIU 4.2's iptables lock, as iptables-nft lists it.
func TestWithoutIptablesLock(t *testing.T) {
	in := "table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tcounter packets 0 bytes 0 jump CRIU\n\t}\n\n" +
		"\tchain CRIU {\n\t\tmeta mark 0x0000c114 counter packets 0 bytes 0 accept\n\t\tcounter packets 0 bytes 0 drop\n\t}\n}\n"
	want := "table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n\n}\n"
	if got := string(withoutLockTables([]byte(in))); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
