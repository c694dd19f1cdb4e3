// Command frrdev runs the frrtest router (FRR + sshd in network
// namespaces, needs root) for `make dev`: it prints how to reach it as
// JSON on stdout, then runs until interrupted and cleans up.
//
//	frrdev -asn 65000 -peer 65001,192.0.2.2,203.0.113.0/24
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/peering-operator/peering-operator/internal/frrtest"
)

type peers []string

func (p *peers) String() string     { return strings.Join(*p, " ") }
func (p *peers) Set(s string) error { *p = append(*p, s); return nil }

func main() {
	asn := flag.Uint("asn", 65000, "local ASN of the router")
	var ps peers
	flag.Var(&ps, "peer", "ASN,address[,prefix...] of a BGP peer on the LAN (repeatable)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := frrtest.Start(ctx, frrtest.Options{LocalASN: uint32(*asn)})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := r.Stop(); err != nil {
			log.Print(err)
		}
	}()
	for _, p := range ps {
		if err := startPeer(r, p); err != nil {
			log.Print(err)
			return
		}
	}
	out := map[string]any{
		"host": r.Host, "port": r.Port, "username": r.User, "password": r.Password,
		"privateKey": string(r.PrivateKey), "knownHosts": string(r.KnownHosts),
		"localASN": r.LocalASN, "routerID": r.RouterID.String(),
		"lan": []string{frrtest.RouterV4.String() + "/24", frrtest.RouterV6.String() + "/64"},
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		log.Print(err)
		return
	}
	<-ctx.Done()
}

func startPeer(r *frrtest.Router, spec string) error {
	f := strings.Split(spec, ",")
	if len(f) < 2 {
		return fmt.Errorf("peer %q: want ASN,address[,prefix...]", spec)
	}
	asn, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return fmt.Errorf("peer %q: %v", spec, err)
	}
	a, err := netip.ParseAddr(f[1])
	if err != nil {
		return fmt.Errorf("peer %q: %v", spec, err)
	}
	var pfx []netip.Prefix
	for _, s := range f[2:] {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("peer %q: %v", spec, err)
		}
		pfx = append(pfx, p)
	}
	_, err = r.StartPeer(uint32(asn), a, pfx...)
	return err
}
