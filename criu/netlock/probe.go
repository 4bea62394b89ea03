package netlock

import (
	"context"
	"net/netip"
	"os/exec"
	"time"
)

// Probe tells what the default method locks with here (criu check): for
// nft, the kernel accepts a host-flavor table with its concatenated
// sets (nft --check: nothing is changed); for iptables, the tool exists.
func Probe() (string, error) {
	m, err := NFTables.Resolve()
	if err != nil {
		return "", err
	}
	if m == IPTables {
		p, _ := exec.LookPath("iptables-restore")
		return "iptables (no nft): " + p, nil
	}
	return ProbeNFT()
}

// ProbeNFT tells whether --network-lock nftables works here: nft is
// installed and the kernel takes a lock table with its concatenated
// sets (nft --check: nothing is changed). CRIU's network_lock_nftables.
func ProbeNFT() (string, error) {
	if _, err := exec.LookPath("nft"); err != nil {
		return "", err
	}
	r := record{ID: "probe", Method: NFTables}
	conns := []Conn{
		{Local: netip.MustParseAddrPort("198.18.0.1:1"), Remote: netip.MustParseAddrPort("198.18.0.2:2")},
		{Local: netip.MustParseAddrPort("[fd18::1]:1"), Remote: netip.MustParseAddrPort("[fd18::2]:2")},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := run(ctx, nil, []byte(r.nftScript(conns)), "nft", "--check", "-f", "-"); err != nil {
		return "", err
	}
	p, _ := exec.LookPath("nft")
	return "nftables: " + p + ", concatenated sets", nil
}
