package frrtest

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestSHA512Crypt(t *testing.T) {
	// Known answer from glibc's crypt(3) test vectors.
	if got, want := sha512Crypt("Hello world!", "saltstring"), "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		for _, c := range [][2]string{{"testpass", "abcdefgh"}, {strings.Repeat("x", 150), "abcdefghijklmnop"}} {
			out, err := exec.Command("openssl", "passwd", "-6", "-salt", c[1], c[0]).Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := sha512Crypt(c[0], c[1]); got != strings.TrimSpace(string(out)) {
				t.Errorf("%q: got %s want %s", c, got, out)
			}
		}
	}
}

func TestHarness(t *testing.T) {
	r := StartFRR(t, Options{BGPConfig: []string{"neighbor 192.0.2.99 remote-as 65099"}})
	out, err := r.Vtysh("show running-config")
	if err != nil || !strings.Contains(out, "neighbor 192.0.2.99 remote-as 65099") || !strings.Contains(out, "router bgp 65000") {
		t.Fatalf("running config: %v\n%s", err, out)
	}
	p, err := r.StartPeer(65001, netip.MustParseAddr("192.0.2.2"), netip.MustParsePrefix("203.0.113.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	p6, err := r.StartPeer(65002, netip.MustParseAddr("2001:db8::2"), netip.MustParsePrefix("2001:db8:f000::/48"))
	if err != nil {
		t.Fatal(err)
	}
	_ = p6
	if _, err := r.Vtysh("configure terminal", "router bgp 65000",
		"neighbor 192.0.2.2 remote-as 65001", "neighbor 2001:db8::2 remote-as 65002",
		"address-family ipv4 unicast", "no neighbor 2001:db8::2 activate", "exit-address-family",
		"address-family ipv6 unicast", "neighbor 2001:db8::2 activate"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := r.Vtysh("show bgp neighbors 192.0.2.2 json", "show bgp neighbors 2001:db8::2 json")
		if strings.Count(out, `"bgpState":"Established"`) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not established:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := p.Vtysh("show bgp summary"); err != nil || !strings.Contains(out, "192.0.2.1") {
		t.Fatalf("peer: %v %s", err, out)
	}
}
